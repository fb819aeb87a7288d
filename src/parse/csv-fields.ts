/**
 * Splits one CSV line into fields (RFC 4180 quoting: `"a,b"`, `"say ""hi"""`), remembering
 * which fields were quoted, because Senseye's CSV tells strings from numbers by the quotes.
 *
 * Hand-written rather than csv-parse: the file source works line by line (each line's byte
 * offset is committed with its readings), Senseye's CSV has no multi-line fields, and this
 * path runs once per input line, so a 40-line splitter beats a streaming parser's overhead.
 */
export interface CsvField {
  text: string;
  quoted: boolean;
}

export type SplitOutcome = { ok: true; fields: CsvField[] } | { ok: false; reason: string };

export function splitCsvLine(line: string, delimiter = ','): SplitOutcome {
  const fields: CsvField[] = [];
  const n = line.length;
  let i = 0;
  for (;;) {
    if (i < n && line[i] === '"') {
      let text = '';
      i++;
      for (;;) {
        const close = line.indexOf('"', i);
        if (close === -1) return { ok: false, reason: `unterminated quoted field ${fields.length + 1}` };
        text += line.slice(i, close);
        if (line[close + 1] === '"') {
          text += '"';
          i = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
      if (i < n && line[i] !== delimiter) {
        return { ok: false, reason: `unexpected text after the closing quote of field ${fields.length + 1}` };
      }
      fields.push({ text, quoted: true });
    } else {
      const next = line.indexOf(delimiter, i);
      const end = next === -1 ? n : next;
      fields.push({ text: line.slice(i, end), quoted: false });
      i = end;
    }
    if (i >= n) return { ok: true, fields };
    i++; // skip the delimiter; a trailing delimiter yields one more empty field
    if (i === n) {
      fields.push({ text: '', quoted: false });
      return { ok: true, fields };
    }
  }
}
