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
#completeness[data-state=complete]{color:#165c16;font-weight:700}
#completeness[data-state=refused]{color:#fff;background:#a01010;padding:.5rem;font-weight:700}
#completeness[data-state=unproven]{color:#1b1b1b;background:#ffd27a;border:2px solid #a05a00;padding:.5rem}
#integrity,#failures li,#network{overflow-wrap:anywhere}
#completeness{overflow-wrap:break-word}
.nowrap{white-space:nowrap}
.who{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
.who dt{font-weight:600}.who dd{margin:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#e8eef4}
thead th{white-space:nowrap}
h3{margin:1.5rem 0 .25rem}
.intro{margin:.25rem 0;color:#444}
.report tbody th{background:#f3f6f9;font-weight:400;min-width:7.5rem}
.report td,.report tbody th{hyphens:none;word-break:normal;overflow-wrap:normal}
.report td[data-col=notes]{overflow-wrap:break-word;min-width:10rem;max-width:28rem}
.report td[data-col=entry],.report td[data-col=where]{white-space:nowrap}
.report .line{display:block}
.nw{white-space:nowrap}
.report .sub{color:#4a4a4a;font-size:.875rem}
.report .badge{display:inline-block;white-space:nowrap;margin-top:.2rem;padding:0 .4rem;border:1px solid #8a4b00;border-radius:.25rem;color:#6b3a00;background:#fff4d6;font-size:.875rem}
.report tr.older{display:none}
#downloads ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}
#filter-form p{display:inline-block;margin:.25rem .5rem .25rem 0;vertical-align:bottom}
@media (max-width:40rem){
main{padding:.75rem}
#filter-form p{display:block;margin:.25rem 0}
}
/* Below 50rem (phones, and tablets upright at 768 px) a row of seven or eight columns would
   squeeze names into one word a line: each row is a card of labelled cells instead. */
@media screen and (max-width:50rem){
.report thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
.report,.report caption,.report tbody,.report tr{display:block}
.report tr{border:1px solid #ccc;margin-bottom:.75rem;background:#fff}
.report tbody th,.report td{display:grid;grid-template-columns:6.5rem 1fr;gap:.5rem;border:0;border-bottom:1px solid #eee}
.report tbody th::before,.report td::before{content:attr(data-label);font-weight:600}
.report td.empty::before{content:none}
.report td[data-col=notes]{max-width:none;min-width:0;overflow-wrap:anywhere}
.report td[data-col=entry],.report td[data-col=where]{white-space:normal;overflow-wrap:anywhere}
.report tbody th{background:#e8eef4}
.report tr.older{display:none}
}
@media print{
header,.no-print,#network{display:none}
body{background:#fff;font-size:11pt}
main{max-width:none;padding:0}
.scroll{overflow:visible}
table{font-size:9pt}
.report .sub,.report .badge{font-size:.85em}
.report tr.older{display:table-row}
tr{break-inside:avoid}
}
`
