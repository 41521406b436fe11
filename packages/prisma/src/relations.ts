import { changesHolder, type ForeignKey } from "./referential-actions.js";

/**
 * Which models a query depends on, and which models a write changes, from the query's arguments and the data model.
 *
 * The rule that keeps cached reads correct: a read is tagged with every model whose rows can change its result, and a
 * write invalidates every model whose rows it can change. Both sides over-approximate rather than miss:
 *
 *   read  user.findMany({ where: { posts: { some: ... } }, include: { profile: true, _count: { select: { posts: true } } } })
 *         → User, Post, Profile   (every relation field named anywhere in the arguments, followed into its model)
 *   write user.update({ data: { posts: { create: { comments: { create: ... } } } } })
 *         → User, Post, Comment   (relation fields under `data`, followed through nested create/update/upsert/...)
 *   write user.delete(...)        → User + every model whose foreign key to User cascades or is set to null, recursively
 *
 * A relation filter reads the related model, so `where` counts for reads. For writes only the written data counts:
 * a relation filter in a write's `where` reads, it does not write.
 */

/** The part of Prisma's runtime data model this package reads (`client._runtimeDataModel`). */
export interface RuntimeDataModel {
  models: Record<string, { fields: ReadonlyArray<{ name: string; kind: string; type: string }> }>;
}

/** Arguments deeper than this are not followed (Prisma's own arguments are far shallower; this only bounds work). */
const MAX_DEPTH = 64;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

export class RelationGraph {
  /** model → relation field → related model. */
  readonly #relations = new Map<string, Map<string, string>>();
  /** target model → foreign keys that refer to it. */
  readonly #referrers = new Map<string, ForeignKey[]>();
  /** Without the schema's foreign keys, deletes fall back to invalidating every related model, transitively. */
  readonly #exactForeignKeys: boolean;
  /** Model names, and the client's property name (`user`) for each. */
  readonly models: ReadonlySet<string>;
  readonly #byProperty = new Map<string, string>();

  constructor(dataModel: RuntimeDataModel, foreignKeys: ForeignKey[] | undefined) {
    for (const [model, { fields }] of Object.entries(dataModel.models)) {
      const relations = new Map<string, string>();
      for (const f of fields) if (f.kind === "object") relations.set(f.name, f.type);
      this.#relations.set(model, relations);
      this.#byProperty.set(model.charAt(0).toLowerCase() + model.slice(1), model);
    }
    this.models = new Set(this.#relations.keys());
    this.#exactForeignKeys = foreignKeys !== undefined;
    for (const fk of foreignKeys ?? []) {
      const list = this.#referrers.get(fk.target);
      if (list) list.push(fk);
      else this.#referrers.set(fk.target, [fk]);
    }
  }

  /** The model named `name` (`User`) or by its client property (`user`), or undefined. */
  modelNamed(name: string): string | undefined {
    return this.#relations.has(name) ? name : this.#byProperty.get(name);
  }

  /** `model` and every model its arguments read through relation fields. */
  readModels(model: string, args: unknown): Set<string> {
    const out = new Set([model]);
    this.#collectRead(model, args, out, 0);
    return out;
  }

  #collectRead(model: string, value: unknown, out: Set<string>, depth: number): void {
    if (depth > MAX_DEPTH || value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      for (const item of value) this.#collectRead(model, item, out, depth + 1);
      return;
    }
    const relations = this.#relations.get(model);
    for (const [key, v] of Object.entries(value)) {
      const target = relations?.get(key);
      if (target !== undefined) {
        out.add(target);
        this.#collectRead(target, v, out, depth + 1);
      } else {
        // `where`, `select`, `include`, `AND`, `some`, `_count`, ...: same model, one level down.
        this.#collectRead(model, v, out, depth + 1);
      }
    }
  }

  /** The models a write can change (see the module comment). */
  writtenModels(model: string, operation: string, args: unknown): Set<string> {
    const out = new Set([model]);
    const a = isObject(args) ? args : {};
    switch (operation) {
      case "create":
      case "createMany":
      case "createManyAndReturn":
        this.#collectData(model, a.data, out, 0);
        break;
      case "update":
      case "updateMany":
      case "updateManyAndReturn":
        this.#collectData(model, a.data, out, 0);
        this.#collectKeyUpdate(model, a.data, out);
        break;
      case "upsert":
        this.#collectData(model, a.create, out, 0);
        this.#collectData(model, a.update, out, 0);
        this.#collectKeyUpdate(model, a.update, out);
        break;
      case "delete":
      case "deleteMany":
        this.#collectDelete(model, out);
        break;
      default:
        break;
    }
    return out;
  }

  /** Relation fields in a `data` object (or list of them) of `model`: nested writes to the related model. */
  #collectData(model: string, data: unknown, out: Set<string>, depth: number): void {
    if (depth > MAX_DEPTH) return;
    if (Array.isArray(data)) {
      for (const item of data) this.#collectData(model, item, out, depth + 1);
      return;
    }
    if (!isObject(data)) return;
    const relations = this.#relations.get(model);
    if (relations === undefined) return;
    for (const [key, v] of Object.entries(data)) {
      const target = relations.get(key);
      if (target === undefined) continue; // a scalar (or Json) value: not followed
      out.add(target);
      if (isObject(v)) this.#collectNested(target, v, out, depth + 1);
    }
  }

  /**
   * A nested write on `target`: `{ create, createMany, connectOrCreate, upsert, update, updateMany, delete,
   * deleteMany, connect, disconnect, set }`, each an object or a list. Connecting and disconnecting change foreign
   * keys only (target is already counted); creates and updates may nest further; deletes cascade.
   */
  #collectNested(target: string, ops: Record<string, unknown>, out: Set<string>, depth: number): void {
    const each = (v: unknown, f: (item: Record<string, unknown>) => void) => {
      for (const item of Array.isArray(v) ? v : [v]) if (isObject(item)) f(item);
    };
    for (const [op, v] of Object.entries(ops)) {
      switch (op) {
        case "create":
          this.#collectData(target, v, out, depth + 1);
          break;
        case "createMany":
          each(v, (item) => this.#collectData(target, item.data, out, depth + 1));
          break;
        case "connectOrCreate":
          each(v, (item) => this.#collectData(target, item.create, out, depth + 1));
          break;
        case "upsert":
          each(v, (item) => {
            this.#collectData(target, item.create, out, depth + 1);
            this.#collectData(target, item.update, out, depth + 1);
            this.#collectKeyUpdate(target, item.update, out);
          });
          break;
        case "update":
        case "updateMany":
          // To-one `update` takes the data itself or `{ where, data }`; to-many takes `{ where, data }` (or a list).
          // Reading both shapes only ever adds models.
          each(v, (item) => {
            this.#collectData(target, item, out, depth + 1);
            this.#collectData(target, item.data, out, depth + 1);
            this.#collectKeyUpdate(target, isObject(item.data) ? item.data : item, out);
          });
          break;
        case "delete":
        case "deleteMany":
          if (v !== false) this.#collectDelete(target, out);
          break;
        default:
          break;
      }
    }
  }

  /** Models whose rows deleting rows of `model` changes, through referential actions, recursively. */
  #collectDelete(model: string, out: Set<string>): void {
    if (!this.#exactForeignKeys) {
      this.#collectConnected(model, out);
      return;
    }
    const seen = new Set([model]);
    const stack = [model];
    while (stack.length > 0) {
      const m = stack.pop()!;
      for (const fk of this.#referrers.get(m) ?? []) {
        if (!changesHolder(fk.onDelete)) continue;
        out.add(fk.holder);
        // Cascade deletes the holder's rows, which cascades further; SetNull/SetDefault only rewrites them.
        if (fk.onDelete === "Cascade" && !seen.has(fk.holder)) {
          seen.add(fk.holder);
          stack.push(fk.holder);
        }
      }
    }
  }

  /** An update that changes a referenced column changes the referring rows too (`onUpdate`, default Cascade). */
  #collectKeyUpdate(model: string, data: unknown, out: Set<string>): void {
    if (!isObject(data)) return;
    if (!this.#exactForeignKeys) {
      // Which columns are referenced is unknown: an update of any scalar might be one.
      if (Object.keys(data).some((k) => !this.#relations.get(model)?.has(k)))
        this.#collectConnected(model, out);
      return;
    }
    for (const fk of this.#referrers.get(model) ?? []) {
      if (changesHolder(fk.onUpdate) && fk.references.some((column) => column in data)) out.add(fk.holder);
    }
  }

  /** Fallback without foreign keys: every model reachable through relations. */
  #collectConnected(model: string, out: Set<string>): void {
    const stack = [model];
    const seen = new Set([model]);
    while (stack.length > 0) {
      const m = stack.pop()!;
      for (const target of this.#relations.get(m)?.values() ?? []) {
        out.add(target);
        if (!seen.has(target)) {
          seen.add(target);
          stack.push(target);
        }
      }
    }
  }
}
