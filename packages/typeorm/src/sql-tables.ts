/**
 * The tables a SELECT reads, found in its SQL.
 *
 * TypeORM hands a `QueryResultCache` only the SQL text (plus `-- PARAMETERS: [...]`) and a query runner, never the
 * query builder, so its main alias and joins are not available to a provider: the SQL is the only description of
 * what a cached query read. TypeORM always escapes the tables it generates (`"user"`, `` `user` ``, `[user]`,
 * `"public"."user"`), so the reference after each FROM and JOIN is easy to read back. This is a scanner, not a
 * parser: it skips string literals, quoted identifiers and comments, and reports the last part of each qualified name
 * after FROM/JOIN (and after commas of a FROM list). It errs on the side of reporting too much (a column after
 * `EXTRACT(... FROM col)`, a CTE name): an extra table costs one more tag, never a stale read.
 */

/** A table reference: its last name part (`user` in `"public"."user"`), unescaped. */
export interface TableReference {
  readonly name: string;
  /** Written with quotes (`"user"`, `` `user` ``, `[user]`) rather than bare. */
  readonly quoted: boolean;
}

/** Words that can follow FROM/JOIN before the table: skipped. */
const PREFIX_WORDS = new Set(["only", "lateral"]);
/** Words that end a FROM item where an alias could stand: not aliases. */
const CLAUSE_WORDS = new Set([
  "where",
  "group",
  "order",
  "having",
  "limit",
  "offset",
  "fetch",
  "for",
  "union",
  "intersect",
  "except",
  "window",
  "left",
  "right",
  "inner",
  "outer",
  "full",
  "cross",
  "natural",
  "join",
  "on",
  "using",
  "returning",
  "with",
  "as",
]);

interface Token {
  kind: "word" | "quoted" | "punct";
  text: string;
}

/** Splits SQL into words, quoted identifiers and punctuation; drops whitespace, comments and string literals. */
function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (c === "-" && sql[i + 1] === "-") {
      // Line comment: TypeORM's `-- PARAMETERS: [...]` suffix ends up here.
      const end = sql.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'") {
      // String literal; '' is an escaped quote.
      i++;
      while (i < n) {
        if (sql[i] === "'") {
          if (sql[i + 1] === "'") i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === '"' || c === "`" || c === "[") {
      const close = c === "[" ? "]" : c;
      let text = "";
      i++;
      while (i < n) {
        const d = sql[i]!;
        if (d === close) {
          // A doubled closing quote is an escaped one inside the identifier.
          if (sql[i + 1] === close) {
            text += close;
            i += 2;
            continue;
          }
          break;
        }
        text += d;
        i++;
      }
      i++;
      out.push({ kind: "quoted", text });
    } else if (/[\p{L}_#]/u.test(c)) {
      // Not `$` or `@`: `$1` and `@0` are parameters (PostgreSQL, SQL Server), not names.
      let j = i + 1;
      while (j < n && /[\p{L}\p{N}_$#@]/u.test(sql[j]!)) j++;
      out.push({ kind: "word", text: sql.slice(i, j) });
      i = j;
    } else if (/\d/.test(c)) {
      let j = i + 1;
      while (j < n && /[\d.eE]/.test(sql[j]!)) j++;
      out.push({ kind: "punct", text: sql.slice(i, j) });
      i = j;
    } else {
      out.push({ kind: "punct", text: c });
      i++;
    }
  }
  return out;
}

const isWord = (t: Token | undefined, word: string): boolean =>
  t !== undefined && t.kind === "word" && t.text.toLowerCase() === word;
const isName = (t: Token | undefined): t is Token =>
  t !== undefined && (t.kind === "quoted" || (t.kind === "word" && !CLAUSE_WORDS.has(t.text.toLowerCase())));

/**
 * The tables `sql` reads, in order of appearance, without duplicates (compared by name, case-insensitively).
 * Subqueries are covered because their own FROM/JOIN clauses are scanned too.
 */
export function tablesOfQuery(sql: string): TableReference[] {
  const tokens = tokenize(sql);
  const seen = new Set<string>();
  const out: TableReference[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (!isWord(tokens[i], "from") && !isWord(tokens[i], "join")) continue;
    let j = i + 1;
    // A FROM list: `FROM a x, b y` (TypeORM never writes one, hand-written SQL may).
    for (;;) {
      while (tokens[j]?.kind === "word" && PREFIX_WORDS.has(tokens[j]!.text.toLowerCase())) j++;
      const first = tokens[j];
      // `FROM (SELECT ...)` is a subquery, scanned on its own; anything else that is not a name is not a table.
      if (!isName(first)) break;
      let last = first;
      j++;
      while (tokens[j]?.text === "." && tokens[j]?.kind === "punct" && isName(tokens[j + 1])) {
        last = tokens[j + 1]!;
        j += 2;
      }
      // `FROM unnest(...)`, `FROM json_each(...)`: a function, not a table.
      if (tokens[j]?.kind === "punct" && tokens[j]?.text === "(") break;
      const key = last.text.toLowerCase();
      if (!seen.has(key)) {
        seen.add(key);
        out.push({ name: last.text, quoted: last.kind === "quoted" });
      }
      // Optional alias, then a comma continues the FROM list.
      if (isWord(tokens[j], "as")) j++;
      if (isName(tokens[j])) j++;
      if (tokens[j]?.kind === "punct" && tokens[j]?.text === ",") {
        j++;
        continue;
      }
      break;
    }
  }
  return out;
}
