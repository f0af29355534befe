import type { Page } from 'playwright-core'

/**
 * Words of the report that the browser broke across lines: for each text node in the report's
 * cells (the EHR's free-text notes excepted, which may hold one unbreakable token longer than
 * any column) and headers, each word's range must lie on one line.
 */
export function wordsWrappedMidWord(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const broken: string[] = []
    const cells = document.querySelectorAll(
      '.report thead th, .report tbody th, .report td:not([data-col=notes]), #integrity, #completeness, #loaded',
    )
    for (const cell of Array.from(cells)) {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT)
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent ?? ''
        for (const match of text.matchAll(/\S+/g)) {
          const range = document.createRange()
          range.setStart(node, match.index)
          range.setEnd(node, match.index + match[0].length)
          const tops = new Set(
            Array.from(range.getClientRects())
              .filter((r) => r.width > 0)
              .map((r) => Math.round(r.top)),
          )
          if (tops.size > 1) broken.push(match[0])
        }
      }
    }
    return broken
  })
}
