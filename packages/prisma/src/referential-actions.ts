/**
 * The foreign keys of a Prisma schema and their referential actions, read from the schema text the generated client
 * carries. A delete can change rows that its arguments never mention: `onDelete: Cascade` removes the rows that
 * refer to the deleted one, `SetNull` rewrites them. Their cached reads must go too.
 *
 * Prisma's runtime data model (the one the client exposes) has the relation fields but not which side holds the
 * foreign key, nor the actions: hence the schema text. Only `@relation(fields: [...], references: [...], onDelete:
 * ..., onUpdate: ...)` attributes are read; anything else in the schema is ignored.
 *
 * Defaults when an action is not written (Prisma's): onDelete `Restrict` for a required relation, `SetNull` for an
 * optional one; onUpdate `Cascade`.
 */

export type ReferentialAction = "Cascade" | "Restrict" | "NoAction" | "SetNull" | "SetDefault";

/** One foreign key: `holder.field` refers to `target` through `fields` → `references`. */
export interface ForeignKey {
  holder: string;
  field: string;
  target: string;
  fields: string[];
  references: string[];
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

const ACTIONS = new Set<string>(["Cascade", "Restrict", "NoAction", "SetNull", "SetDefault"]);

/** Whether an action changes the holder's rows (as opposed to refusing the change or doing nothing). */
export function changesHolder(action: ReferentialAction): boolean {
  return action === "Cascade" || action === "SetNull" || action === "SetDefault";
}

function list(attribute: string, name: string): string[] | undefined {
  const m = new RegExp(`\\b${name}\\s*:\\s*\\[([^\\]]*)\\]`).exec(attribute);
  if (!m) return undefined;
  return m[1]!
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function action(attribute: string, name: string): ReferentialAction | undefined {
  const m = new RegExp(`\\b${name}\\s*:\\s*(\\w+)`).exec(attribute);
  return m && ACTIONS.has(m[1]!) ? (m[1] as ReferentialAction) : undefined;
}

/** The foreign keys declared in `schema` (Prisma schema language). */
export function parseForeignKeys(schema: string): ForeignKey[] {
  const out: ForeignKey[] = [];
  // Comments out first: `//` to the end of the line (no string in a relation attribute holds "//").
  const text = schema.replace(/\/\/[^\n]*/g, "");
  const blocks = /\bmodel\s+(\w+)\s*\{([^}]*)\}/g;
  for (let block = blocks.exec(text); block !== null; block = blocks.exec(text)) {
    const holder = block[1]!;
    for (const line of block[2]!.split("\n")) {
      const field = /^\s*(\w+)\s+(\w+)(\[\])?(\?)?\s+(.*)$/.exec(line);
      if (!field) continue;
      const attributes = field[5]!;
      const start = attributes.indexOf("@relation(");
      if (start < 0) continue;
      const relation = attributes.slice(start);
      const fields = list(relation, "fields");
      if (fields === undefined) continue; // the side without the foreign key
      const optional = field[4] === "?";
      out.push({
        holder,
        field: field[1]!,
        target: field[2]!,
        fields,
        references: list(relation, "references") ?? [],
        onDelete: action(relation, "onDelete") ?? (optional ? "SetNull" : "Restrict"),
        onUpdate: action(relation, "onUpdate") ?? "Cascade",
      });
    }
  }
  return out;
}
