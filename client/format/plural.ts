/**
 * "1 answer", "2 answers", "20,075 entries": a count with its noun in the right number, the
 * count grouped by thousands. `pluralForm` for nouns that do not just take an "s".
 */
export function plural(n: number, singular: string, pluralForm?: string): string {
  const noun = n === 1 ? singular : (pluralForm ?? defaultPlural(singular))
  return `${n.toLocaleString('en-US')} ${noun}`
}

function defaultPlural(singular: string): string {
  if (/[^aeiou]y$/.test(singular)) return `${singular.slice(0, -1)}ies`
  if (/(s|x|ch|sh)$/.test(singular)) return `${singular}es`
  return `${singular}s`
}
