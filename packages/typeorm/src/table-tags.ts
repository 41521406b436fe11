import { InvalidArgumentError } from "@mcpair/core";
import type { DataSource, EntityMetadata } from "typeorm";
import { tablesOfQuery } from "./sql-tables.js";

/**
 * Table tags: a cached query carries one core tag per table it read, and a write through TypeORM invalidates the tag
 * of the table it wrote. Both sides must spell a table the same way, so a tag is the table's bare name (no schema,
 * no quotes) in lower case: `table:user`. Two tables that differ only by schema or by case share a tag, which can
 * only invalidate too much, never too little.
 */
export const TABLE_TAG_PREFIX = "table:";

/** The core tag of table `name` (bare or schema-qualified; quotes are not stripped). */
export function tableTag(name: string): string {
  const dot = name.lastIndexOf(".");
  return TABLE_TAG_PREFIX + (dot === -1 ? name : name.slice(dot + 1)).toLowerCase();
}

const PARAMETERS_MARK = " -- PARAMETERS: ";

/**
 * `tables` as an array of non-empty names, or `InvalidArgumentError` naming `what` (a lone string is refused: it
 * would otherwise be read character by character).
 */
export function tableList(tables: unknown, what: string): string[] {
  const list =
    typeof tables !== "string" && tables !== null && typeof tables === "object" && Symbol.iterator in tables
      ? [...(tables as Iterable<unknown>)]
      : undefined;
  if (list === undefined || list.some((t) => typeof t !== "string" || t === ""))
    throw new InvalidArgumentError(
      `${what} must be an array of non-empty table names, e.g. ["user", "post"]`,
    );
  return list as string[];
}

/** Most distinct SQL texts whose tags are remembered: the scan is cheap, but hot queries repeat. */
const MEMO_LIMIT = 500;

/** The subset of TypeORM's view metadata this module reads (views expand into the tables they select from). */
type ViewMetadata = Pick<EntityMetadata, "tableName" | "tableType" | "expression" | "dependsOn">;

/**
 * Turns a query's SQL, or an entity's metadata, into table tags for one DataSource. Tables are resolved against the
 * DataSource's entity metadata where it says more than the SQL: a view (`@ViewEntity`) expands into the tables of
 * its `dependsOn` and of its expression, so a write to a base table also invalidates cached reads of the view.
 */
export class TableTags {
  readonly #dataSource: DataSource;
  #views: Map<string, ViewMetadata> | undefined;
  #viewsOf: readonly EntityMetadata[] | undefined;
  readonly #memo = new Map<string, readonly string[]>();

  constructor(dataSource: DataSource) {
    this.#dataSource = dataSource;
  }

  /** The tags of every table `sql` reads (views expanded). */
  forQuery(query: string): readonly string[] {
    // TypeORM appends ` -- PARAMETERS: [...]` to the SQL it hands the cache: the tables do not depend on it.
    const cut = query.lastIndexOf(PARAMETERS_MARK);
    const sql = cut === -1 ? query : query.slice(0, cut);
    const known = this.#memo.get(sql);
    if (known !== undefined) return known;
    const tags = this.forTables(tablesOfQuery(sql).map((t) => t.name));
    if (this.#memo.size >= MEMO_LIMIT) this.#memo.delete(this.#memo.keys().next().value as string);
    this.#memo.set(sql, tags);
    return tags;
  }

  /** The tag of the table an entity write touched. */
  forMetadata(metadata: Pick<EntityMetadata, "tableName">): string {
    return tableTag(metadata.tableName);
  }

  /** The tags of `tables` (bare or schema-qualified names), views expanded into the tables they read. */
  forTables(tables: Iterable<string>): readonly string[] {
    const out = new Set<string>();
    const views = this.#viewMap();
    const visit = (name: string, depth: number): void => {
      const tag = tableTag(name);
      if (out.has(tag)) return;
      out.add(tag);
      const view = views.get(tag);
      // Views over views are followed a few levels; a cycle stops at the `out.has` check above.
      if (view === undefined || depth > 8) return;
      for (const dep of this.#viewDependencies(view)) visit(dep, depth + 1);
    };
    for (const name of tables) visit(name, 0);
    return [...out];
  }

  #viewMap(): Map<string, ViewMetadata> {
    const metadatas = this.#dataSource.entityMetadatas;
    if (this.#views !== undefined && this.#viewsOf === metadatas) return this.#views;
    const views = new Map<string, ViewMetadata>();
    for (const m of metadatas ?? []) {
      if (m.tableType === "view") views.set(tableTag(m.tableName), m);
    }
    this.#views = views;
    this.#viewsOf = metadatas;
    this.#memo.clear();
    return views;
  }

  /** The tables a view reads: its `dependsOn` entities and the FROM/JOIN tables of its expression. */
  #viewDependencies(view: ViewMetadata): string[] {
    const names: string[] = [];
    for (const target of view.dependsOn ?? []) {
      try {
        names.push(this.#dataSource.getMetadata(target).tableName);
      } catch {
        if (typeof target === "string") names.push(target);
      }
    }
    let sql: string | undefined;
    try {
      sql =
        typeof view.expression === "function"
          ? view.expression(this.#dataSource).getQuery()
          : view.expression;
    } catch {
      sql = undefined;
    }
    if (sql !== undefined) names.push(...tablesOfQuery(sql).map((t) => t.name));
    return names;
  }
}
