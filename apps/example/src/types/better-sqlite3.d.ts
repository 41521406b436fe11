// The subset of better-sqlite3's API this app uses (the package ships no types, and @types/better-sqlite3 is not a
// dependency of the workspace).
declare module "better-sqlite3" {
  interface Statement {
    /** True for statements that return rows (SELECT, and writes with RETURNING). */
    readonly reader: boolean;
    all(...params: unknown[]): unknown[];
    run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  }
  interface Database {
    prepare(sql: string): Statement;
    pragma(source: string): unknown;
    close(): void;
  }
  interface DatabaseConstructor {
    new (filename: string, options?: { readonly?: boolean; timeout?: number }): Database;
  }
  const Database: DatabaseConstructor;
  export default Database;
}
