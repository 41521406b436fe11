/**
 * Server list parsing: turns what users write ("10.0.0.1:11211:2", "[::1]:11212", "/run/memcached.sock", objects)
 * into validated `ServerAddress` records. Every problem is reported with the offending `servers[i]` and what is
 * allowed, because a server list usually comes from an environment variable and is hard to debug at request time.
 */
import { InvalidArgumentError } from "./errors.js";
import type { ServerAddress } from "./transport.js";

/** memcached's registered port, used when a spec gives none. */
export const DEFAULT_MEMCACHED_PORT = 11211;

/**
 * One configured server.
 *
 * - `"host"`, `"host:port"`, `"host:port:weight"`: a TCP server; the port defaults to 11211, the weight to 1.
 * - `"[::1]"`, `"[::1]:11211"`, `"[::1]:11211:2"`: IPv6 addresses go in brackets.
 * - `"/abs/path.sock"`: a Unix socket; its name is the path. Use the object form to weight a socket.
 * - An object: `host` plus the optional fields below.
 */
export type ServerSpec =
  | string
  | {
      /** Host name or IP address (IPv6 with or without brackets). Optional only when `path` is given. */
      host: string;
      /** TCP port, 1-65535. @default 11211 (0 for a Unix socket) */
      port?: number | undefined;
      /** Relative share of keys; a positive finite number. @default 1 */
      weight?: number | undefined;
      /**
       * Identity on the ring. Keys follow the name, not the address, so a server can move to a new address without
       * remapping its keys. @default "host:port" ("[ipv6]:port" for IPv6), or `path` for a Unix socket
       */
      name?: string | undefined;
      /** Absolute path of a Unix socket; when given, the server is reached through it. */
      path?: string | undefined;
    };

const FORMS = '"host", "host:port", "host:port:weight", "[ipv6]:port[:weight]", "/path/to.sock" or an object';
const HOSTNAME = /^[A-Za-z0-9_.-]+$/;
// Hex groups, an optional embedded IPv4 tail and an optional zone id (fe80::1%eth0).
const IPV6 = /^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$/;
const DIGITS = /^\d+$/;
const DECIMAL = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The default `name` of a TCP server: `host:port`, with IPv6 hosts in brackets so the port stays unambiguous. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function fail(index: number, message: string): never {
  throw new InvalidArgumentError(`servers[${index}]: ${message}`);
}

function checkHost(index: number, host: string, spec: string): string {
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host.includes(":")) {
    if (!IPV6.test(host)) fail(index, `invalid IPv6 address ${JSON.stringify(host)} in ${spec}`);
    return host;
  }
  if (!HOSTNAME.test(host)) {
    fail(
      index,
      `invalid host ${JSON.stringify(host)} in ${spec}: expected a host name or IP address (letters, digits, ".", "-", "_"); ` +
        `the accepted forms are ${FORMS}`,
    );
  }
  return host;
}

function checkPort(index: number, port: number, spec: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    fail(index, `invalid port ${String(port)} in ${spec}: expected an integer from 1 to 65535`);
  }
  return port;
}

function checkWeight(index: number, weight: number, spec: string): number {
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight <= 0) {
    fail(index, `invalid weight ${String(weight)} in ${spec}: expected a positive finite number`);
  }
  return weight;
}

function parseString(raw: string, index: number): ServerAddress {
  const text = raw.trim();
  const shown = JSON.stringify(raw);
  if (text === "") fail(index, `empty server string; expected ${FORMS}`);
  if (text.startsWith("/")) {
    // Socket paths may contain ':' and '[', so nothing after the path is parsed: weight a socket with the object form.
    return { name: text, host: text, port: 0, path: text, weight: 1 };
  }

  let host: string;
  let rest: string[];
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) fail(index, `missing "]" in ${shown}: write IPv6 addresses as "[::1]:11211"`);
    host = text.slice(1, close);
    const tail = text.slice(close + 1);
    if (tail !== "" && !tail.startsWith(":")) {
      fail(
        index,
        `unexpected ${JSON.stringify(tail)} after "]" in ${shown}: expected "[ipv6]:port[:weight]"`,
      );
    }
    rest = tail === "" ? [] : tail.slice(1).split(":");
    if (host === "") fail(index, `empty IPv6 address in ${shown}`);
    if (!host.includes(":"))
      fail(index, `${JSON.stringify(host)} in brackets is not an IPv6 address in ${shown}`);
  } else {
    const parts = text.split(":");
    if (parts.length > 3 || text.includes("::")) {
      fail(
        index,
        `cannot parse ${shown}: expected "host", "host:port" or "host:port:weight"; write IPv6 addresses in brackets, like "[::1]:11211"`,
      );
    }
    host = parts[0]!;
    rest = parts.slice(1);
    if (host === "") fail(index, `missing host in ${shown}; expected ${FORMS}`);
  }
  if (rest.length > 2) fail(index, `too many ":" in ${shown}: expected "[ipv6]:port[:weight]" at most`);

  host = checkHost(index, host, shown);
  const portText = rest[0];
  let port = DEFAULT_MEMCACHED_PORT;
  if (portText !== undefined) {
    if (!DIGITS.test(portText)) {
      fail(
        index,
        `invalid port ${JSON.stringify(portText)} in ${shown}: expected an integer from 1 to 65535`,
      );
    }
    port = checkPort(index, Number(portText), shown);
  }
  const weightText = rest[1];
  let weight = 1;
  if (weightText !== undefined) {
    if (!DECIMAL.test(weightText)) {
      fail(
        index,
        `invalid weight ${JSON.stringify(weightText)} in ${shown}: expected a positive finite number`,
      );
    }
    weight = checkWeight(index, Number(weightText), shown);
  }
  return { name: formatHostPort(host, port), host, port, weight };
}

function parseObject(spec: Exclude<ServerSpec, string>, index: number): ServerAddress {
  const shown = "the object";
  const { path, name } = spec;
  let { host } = spec;

  if (path !== undefined && (typeof path !== "string" || !path.startsWith("/"))) {
    fail(
      index,
      `invalid path ${JSON.stringify(path)}: expected an absolute Unix socket path such as "/run/memcached.sock"`,
    );
  }
  if (host === undefined && path !== undefined) {
    host = path;
  } else if (typeof host !== "string" || host.trim() === "") {
    fail(index, `invalid host ${JSON.stringify(host)}: expected a non-empty host name or IP address`);
  } else if (path === undefined) {
    host = checkHost(index, host.trim(), shown);
  }

  const port =
    spec.port === undefined
      ? path === undefined
        ? DEFAULT_MEMCACHED_PORT
        : 0
      : checkPort(index, spec.port, shown);
  const weight = spec.weight === undefined ? 1 : checkWeight(index, spec.weight, shown);
  if (name !== undefined && (typeof name !== "string" || name.trim() === "")) {
    fail(index, `invalid name ${JSON.stringify(name)}: expected a non-empty string`);
  }
  const address: ServerAddress = {
    name: name ?? path ?? formatHostPort(host, port),
    host,
    port,
    weight,
  };
  if (path !== undefined) address.path = path;
  return address;
}

/**
 * Validates and normalises a server list. Strings are parsed as described on {@link ServerSpec}; objects are checked
 * field by field. The result is a new array of new objects, in the given order (the order matters only as a
 * tie-break when two servers share a ring point).
 *
 * @throws InvalidArgumentError naming `servers[i]` and what is allowed: for an empty list, a malformed string, a bad
 * host, a port outside 1-65535, a weight that is not a positive finite number, or two servers with the same name.
 */
export function parseServers(specs: readonly ServerSpec[]): ServerAddress[] {
  if (!Array.isArray(specs)) {
    throw new InvalidArgumentError(
      `servers: expected an array of server specs (${FORMS}), got ${typeof specs}`,
    );
  }
  if (specs.length === 0) {
    throw new InvalidArgumentError(
      'servers: the list is empty; give at least one server, such as "127.0.0.1:11211"',
    );
  }
  const result: ServerAddress[] = [];
  specs.forEach((spec: unknown, index) => {
    if (typeof spec === "string") {
      result.push(parseString(spec, index));
    } else if (typeof spec === "object" && spec !== null && !Array.isArray(spec)) {
      result.push(parseObject(spec as Exclude<ServerSpec, string>, index));
    } else {
      fail(index, `expected ${FORMS}, got ${spec === null ? "null" : typeof spec}`);
    }
  });
  assertUniqueNames(result);
  return result;
}

/**
 * Throws when two servers share a `name`: the ring identifies servers by name, so duplicates would silently merge
 * their keys onto one of them.
 */
export function assertUniqueNames(servers: readonly ServerAddress[]): void {
  const seen = new Map<string, number>();
  servers.forEach((server, index) => {
    const first = seen.get(server.name);
    if (first !== undefined) {
      fail(
        index,
        `duplicate name ${JSON.stringify(server.name)} (also servers[${first}]): every server needs a unique name; ` +
          "list each address once or set `name`",
      );
    }
    seen.set(server.name, index);
  });
}
