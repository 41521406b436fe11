import type {
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  QueryRunner,
  RecoverEvent,
  RemoveEvent,
  SoftRemoveEvent,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  TransactionStartEvent,
  UpdateEvent,
} from "typeorm";
import type { TableTags } from "./table-tags.js";

/** Invalidates table tags; resolves when every process stops serving entries carrying them. */
export type InvalidateTags = (tags: readonly string[], queryRunner: QueryRunner | undefined) => Promise<void>;

/**
 * The TypeORM subscriber behind `invalidateOnWrite`: it learns which tables a write touched from TypeORM's entity
 * events and invalidates their tags once the write is committed.
 *
 * Covered: every write TypeORM broadcasts with entity metadata, which is `save`/`insert`/`update`/`upsert`/`remove`/
 * `delete`/`softRemove`/`softDelete`/`recover`/`restore`/`increment`/`decrement` on repositories and entity managers,
 * and `QueryBuilder` `insert`/`update`/`delete`/`softDelete`/`restore` on an entity (`callListeners` left on),
 * including the junction rows of many-to-many relations. Not covered: raw `query()`, a QueryBuilder on a table name
 * that is not an entity, `callListeners(false)`, `clear()` (TRUNCATE), database triggers and cascades (`ON DELETE
 * CASCADE` in the database), and writes made outside TypeORM.
 *
 * When: TypeORM calls `after*` subscribers right after the statement, while its transaction may still roll back.
 * Outside a transaction the statement is already committed, so its tables are invalidated at once (before the
 * write call resolves). Inside one, the tables are remembered per query runner and per savepoint level:
 *
 *     START TRANSACTION        frames: [ {} ]
 *       save(user)             frames: [ {user} ]
 *       SAVEPOINT              frames: [ {user}, {} ]
 *         save(post)           frames: [ {user}, {post} ]
 *       ROLLBACK TO SAVEPOINT  frames: [ {user} ]            (post's write is gone: so is its invalidation)
 *     COMMIT                   invalidate {user}, frames dropped
 *
 * A rolled-back transaction invalidates nothing, so the cache keeps serving the committed data; a committed one
 * invalidates before `commitTransaction()` (and so `save()`, `transaction()`) resolves. Until it commits, the
 * provider neither serves nor stores, on that query runner, queries that read a table it wrote (see
 * {@link WriteInvalidation.pendingTags}): the transaction sees its own writes, and its uncommitted data never enters
 * the cache.
 */
export class WriteInvalidation implements EntitySubscriberInterface {
  readonly #tags: TableTags;
  readonly #invalidate: InvalidateTags;
  /** Per query runner with an open transaction: the tags written at each savepoint level, outermost first. */
  readonly #frames = new WeakMap<QueryRunner, Set<string>[]>();

  constructor(tags: TableTags, invalidate: InvalidateTags) {
    this.#tags = tags;
    this.#invalidate = invalidate;
  }

  /** Tags written by the open (uncommitted) transaction of `queryRunner`, if any. */
  pendingTags(queryRunner: QueryRunner | undefined): ReadonlySet<string> | undefined {
    if (queryRunner === undefined || !queryRunner.isTransactionActive) return undefined;
    const frames = this.#frames.get(queryRunner);
    if (frames === undefined) return undefined;
    const all = new Set<string>();
    for (const frame of frames) for (const tag of frame) all.add(tag);
    return all.size === 0 ? undefined : all;
  }

  afterInsert(event: InsertEvent<unknown>): Promise<void> | undefined {
    return this.#wrote(event.queryRunner, event.metadata);
  }
  afterUpdate(event: UpdateEvent<unknown>): Promise<void> | undefined {
    return this.#wrote(event.queryRunner, event.metadata);
  }
  afterRemove(event: RemoveEvent<unknown>): Promise<void> | undefined {
    return this.#wrote(event.queryRunner, event.metadata);
  }
  afterSoftRemove(event: SoftRemoveEvent<unknown>): Promise<void> | undefined {
    return this.#wrote(event.queryRunner, event.metadata);
  }
  afterRecover(event: RecoverEvent<unknown>): Promise<void> | undefined {
    return this.#wrote(event.queryRunner, event.metadata);
  }

  afterTransactionStart(event: TransactionStartEvent): void {
    const qr = event.queryRunner;
    const frames = this.#frames.get(qr);
    if (frames === undefined) this.#frames.set(qr, [new Set()]);
    else frames.push(new Set());
  }

  afterTransactionCommit(event: TransactionCommitEvent): Promise<void> | undefined {
    const qr = event.queryRunner;
    const frames = this.#frames.get(qr);
    if (frames === undefined) return undefined;
    if (qr.isTransactionActive) {
      // A savepoint was released: its writes now belong to the enclosing level.
      const released = frames.pop();
      if (frames.length === 0) frames.push(new Set());
      if (released !== undefined) for (const tag of released) frames[frames.length - 1]!.add(tag);
      return undefined;
    }
    this.#frames.delete(qr);
    const tags = new Set<string>();
    for (const frame of frames) for (const tag of frame) tags.add(tag);
    return tags.size === 0 ? undefined : this.#invalidate([...tags], qr);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    const qr = event.queryRunner;
    const frames = this.#frames.get(qr);
    if (frames === undefined) return;
    // Rolled back to a savepoint: forget that level's writes. With a single frame left (levels merged because the
    // transaction began before this subscriber was registered) keep it: invalidating too much is safe.
    if (qr.isTransactionActive) {
      if (frames.length > 1) frames.pop();
    } else this.#frames.delete(qr);
  }

  #wrote(
    qr: QueryRunner | undefined,
    metadata: Pick<EntityMetadata, "tableName"> | undefined,
  ): Promise<void> | undefined {
    if (metadata === undefined) return undefined;
    const tag = this.#tags.forMetadata(metadata);
    if (qr === undefined || !qr.isTransactionActive) return this.#invalidate([tag], qr);
    let frames = this.#frames.get(qr);
    // The transaction started before this subscriber was registered: treat it as one level.
    if (frames === undefined || frames.length === 0) {
      frames = [new Set()];
      this.#frames.set(qr, frames);
    }
    frames[frames.length - 1]!.add(tag);
    return undefined;
  }
}
