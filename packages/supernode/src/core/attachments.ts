/**
 * The attachments a supernode holds (spec/07-supernode.md §3, SN-ATTACH-*, SN-BUSY-*): at most one per
 * (user, device), active or standby, and at most `capacity` in all. Keyed by the certified subject and
 * device id of the node's channel, never by anything the node says.
 */
export type AttachMode = 'active' | 'standby';

/** What the table needs of a channel's session. */
export interface Attachable {
  readonly username: string;
  readonly deviceId: Uint8Array;
  attachment: AttachMode | undefined;
}

const deviceKey = (username: string, deviceId: Uint8Array): string =>
  `${username}\u0000${Buffer.from(deviceId.buffer, deviceId.byteOffset, deviceId.byteLength).toString('hex')}`;

export type AttachOutcome<S> = { readonly kind: 'attached'; readonly replaced?: S } | { readonly kind: 'full' };

export class AttachmentTable<S extends Attachable> {
  readonly #byDevice = new Map<string, S>();
  readonly #byUser = new Map<string, Set<S>>();
  #active = 0;

  constructor(readonly capacity: number) {}

  /** Attachments held (active and standby). */
  get size(): number {
    return this.#byDevice.size;
  }
  get active(): number {
    return this.#active;
  }

  /**
   * Attaches `session` in `mode`. A session already attached changes mode ([SN-ATTACH-6]); another
   * session of the same (user, device) is replaced and returned ([SN-ATTACH-5]); a new device when
   * `capacity` are held is refused ('full', [SN-BUSY-1]).
   */
  attach(session: S, mode: AttachMode): AttachOutcome<S> {
    const key = deviceKey(session.username, session.deviceId);
    const held = this.#byDevice.get(key);
    if (held === session) {
      this.#setMode(session, mode);
      return { kind: 'attached' };
    }
    if (held === undefined && this.#byDevice.size >= this.capacity) return { kind: 'full' };
    if (held !== undefined) this.#remove(key, held);
    this.#byDevice.set(key, session);
    let users = this.#byUser.get(session.username);
    if (users === undefined) {
      users = new Set();
      this.#byUser.set(session.username, users);
    }
    users.add(session);
    session.attachment = undefined;
    this.#setMode(session, mode);
    return held === undefined ? { kind: 'attached' } : { kind: 'attached', replaced: held };
  }

  /** Removes `session`'s attachment, if it holds one. */
  detach(session: S): void {
    const key = deviceKey(session.username, session.deviceId);
    if (this.#byDevice.get(key) === session) this.#remove(key, session);
  }

  /** The session attached for (user, device). */
  get(username: string, deviceId: Uint8Array): S | undefined {
    return this.#byDevice.get(deviceKey(username, deviceId));
  }

  /** The sessions of `username`'s attached devices. */
  devices(username: string): S[] {
    return [...(this.#byUser.get(username) ?? [])];
  }

  #setMode(session: S, mode: AttachMode): void {
    if (session.attachment === 'active') this.#active--;
    session.attachment = mode;
    if (mode === 'active') this.#active++;
  }

  #remove(key: string, session: S): void {
    this.#byDevice.delete(key);
    const users = this.#byUser.get(session.username);
    users?.delete(session);
    if (users !== undefined && users.size === 0) this.#byUser.delete(session.username);
    if (session.attachment === 'active') this.#active--;
    session.attachment = undefined;
  }
}
