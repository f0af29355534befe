/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/** Raw HTML built by this module's callers from escaped parts: a type so plain strings cannot slip in. */
export interface Html {
  readonly html: string
}

/** Tagged template: interpolated strings are escaped, Html values are inserted as they are. */
export function html(
  strings: TemplateStringsArray,
  ...values: Array<string | number | Html>
): Html {
  let out = strings[0] ?? ''
  values.forEach((v, i) => {
    out += typeof v === 'object' ? v.html : escapeHtml(String(v))
    out += strings[i + 1] ?? ''
  })
  return { html: out }
}

/**
 * A whole page: one stylesheet and one script, both from this origin (the CSP allows nothing
 * else, and no inline code). `page` selects what the script does; `data` goes into
 * data-* attributes of <body>, escaped.
 */
export function page(
  title: string,
  name: string,
  body: Html,
  data: Record<string, string> = {},
): string {
  const attrs = Object.entries(data)
    .map(([k, v]) => html` data-${k}="${v}"`.html)
    .join('')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ehrlog</title>
<link rel="stylesheet" href="/portal/style.css">
<script type="module" src="/portal/app.js"></script>
</head>
<body data-page="${escapeHtml(name)}"${attrs}>
<header><p class="brand">ehrlog · tamper-evident EHR audit log</p></header>
<main>
${body.html}
</main>
</body>
</html>
`
}
