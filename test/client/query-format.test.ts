import { describe, expect, it } from 'vitest'
import { csvCell, toCsv } from '../../client/format/csv.ts'

describe('CSV export of query answers', () => {
  it('quotes per RFC 4180 and defuses spreadsheet formulas in EHR-supplied text', () => {
    expect(toCsv(['A', 'B'], [['x', 'say "hi", then\nleave']])).toBe(
      'A,B\r\nx,"say ""hi"", then\nleave"\r\n',
    )
    expect(csvCell('=HYPERLINK("http://evil")')).toBe(`"'=HYPERLINK(""http://evil"")"`)
    expect(csvCell('+1')).toBe("'+1")
    expect(csvCell('-2')).toBe("'-2")
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)")
    expect(csvCell('hospital-a:12')).toBe('hospital-a:12')
  })
})
