/** The portal's only stylesheet: readable on a phone, no external fonts or images. */
export const PORTAL_CSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1b1b1b;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:.5rem 1rem}
.brand{margin:0;font-weight:600}
main{max-width:72rem;margin:0 auto;padding:1rem}
label{display:inline-block;margin-right:.5rem}
input:not([type=checkbox]):not([type=radio]),select{display:block;width:100%;max-width:24rem;min-height:2.5rem;padding:.4rem;font:inherit}
fieldset{border:1px solid #bbb;max-width:24rem}
button{font:inherit;padding:.4rem 1rem;cursor:pointer}
#message{color:#8a1010;font-weight:600}
#message.ok{color:#165c16}
.notice{background:#fff4d6;border:1px solid #c9a227;padding:.75rem}
#integrity.verified{color:#165c16;font-weight:700}
#integrity.compromised{color:#fff;background:#a01010;padding:.5rem;font-weight:700}
#integrity.warning{color:#1b1b1b;background:#ffd27a;border:2px solid #a05a00;padding:.5rem;font-weight:700}
#integrity,#failures li,#network{overflow-wrap:anywhere}
.who{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
.who dt{font-weight:600}.who dd{margin:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#e8eef4}
td.notes{white-space:pre-wrap;word-break:break-word}
#filter-form p{display:inline-block;margin:.25rem .5rem .25rem 0;vertical-align:bottom}
@media (max-width:40rem){
main{padding:.75rem}
#filter-form p{display:block;margin:.25rem 0}
#logs thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
#logs,#logs caption,#logs tbody,#logs tr{display:block}
#logs tr{border:1px solid #ccc;margin-bottom:.75rem;background:#fff}
#logs tbody th,#logs td{display:grid;grid-template-columns:8.5rem 1fr;gap:.5rem;border:0;border-bottom:1px solid #eee;overflow-wrap:anywhere}
#logs tbody th::before,#logs td::before{content:attr(data-label);font-weight:600}
#logs tbody th{background:#e8eef4}
}
`
