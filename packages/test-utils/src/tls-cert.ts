import { execFile } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { findExecutable } from "./binary.js";
import { HarnessError } from "./harness-error.js";
import { processTempDir } from "./registry.js";

/** A self-signed certificate for `127.0.0.1` / `localhost`, and where its files are. */
export interface TestCertificate {
  /** The certificate, PEM. Pass it as `ca` to `tls.connect` to trust the server. */
  certPem: string;
  /** The private key (PKCS#8 PEM). */
  keyPem: string;
  certFile: string;
  keyFile: string;
  /** Which generator made it. */
  generatedBy: "openssl" | "node:crypto";
}

let shared: Promise<TestCertificate> | undefined;

/**
 * The certificate every TLS memcached of this process uses, generated on first use with the `openssl` CLI, or with
 * `node:crypto` when there is no `openssl` (or it fails). The files are readable by everyone because memcached reads
 * them after dropping root privileges; they live in the process's scratch directory, removed when it exits.
 */
export function testCertificate(): Promise<TestCertificate> {
  shared ??= createTestCertificate();
  return shared;
}

/** Generates a new certificate into a fresh directory. `generator` forces one method (for tests). */
export async function createTestCertificate(
  generator: "auto" | "openssl" | "node:crypto" = "auto",
): Promise<TestCertificate> {
  const dir = mkdtempSync(join(processTempDir(), "tls-"));
  chmodSync(dir, 0o755);
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  let generatedBy: TestCertificate["generatedBy"] = "node:crypto";
  const openssl = generator === "node:crypto" ? undefined : findExecutable("openssl");
  if (openssl !== undefined) {
    try {
      await generateWithOpenssl(openssl, certFile, keyFile);
      generatedBy = "openssl";
    } catch (err) {
      if (generator === "openssl")
        throw new HarnessError(`openssl failed to generate a certificate: ${String(err)}`, {
          code: "ERR_MCPAIR_TEST_TLS_CERT",
          cause: err,
        });
    }
  } else if (generator === "openssl") {
    throw new HarnessError("openssl is not on PATH", { code: "ERR_MCPAIR_TEST_TLS_CERT" });
  }
  if (generatedBy === "node:crypto") {
    const { certPem, keyPem } = generateWithNodeCrypto();
    writeFileSync(certFile, certPem);
    writeFileSync(keyFile, keyPem);
  }
  chmodSync(certFile, 0o644);
  chmodSync(keyFile, 0o644);
  return {
    certPem: readFileSync(certFile, "utf8"),
    keyPem: readFileSync(keyFile, "utf8"),
    certFile,
    keyFile,
    generatedBy,
  };
}

async function generateWithOpenssl(openssl: string, certFile: string, keyFile: string): Promise<void> {
  await promisify(execFile)(
    openssl,
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "3650",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { timeout: 20_000 },
  );
}

// --- node:crypto fallback ---------------------------------------------------------------------------------------
// Node can make keys and signatures but not certificates, so the X.509 structure is DER-encoded by hand:
//
//   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm (ecdsa-with-SHA256), signature BIT STRING }
//   tbsCertificate ::= SEQUENCE { [0] version v3, serial, signature alg, issuer, validity, subject,
//                                 subjectPublicKeyInfo (exported by node), [3] extensions }

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const sequence = (...content: Buffer[]): Buffer => der(0x30, ...content);

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let n = arc; ; n = Math.floor(n / 128)) {
      groups.unshift((n % 128) | (groups.length > 0 ? 0x80 : 0));
      if (n < 128) break;
    }
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  // YYMMDDHHMMSSZ, valid for years 1950-2049
  const iso = date.toISOString();
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return der(0x17, Buffer.from(text, "ascii"));
}

/** A self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost, made with node:crypto only. */
export function generateWithNodeCrypto(): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const ecdsaWithSha256 = sequence(oid("1.2.840.10045.4.3.2"));
  const name = sequence(der(0x31, sequence(oid("2.5.4.3"), der(0x0c, Buffer.from("localhost", "utf8")))));
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40; // positive, no leading zero byte
  const now = Date.now();
  const validity = sequence(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + 3650 * 86_400_000)));
  // The key identifier is the SHA-1 of the public key bits (the last 65 bytes of a P-256 SPKI: 04 || X || Y).
  const keyId = createHash("sha1")
    .update(spki.subarray(spki.length - 65))
    .digest();
  const extensions = der(
    0xa3,
    sequence(
      // basicConstraints, critical, CA:TRUE (what `openssl req -x509` writes too)
      sequence(
        oid("2.5.29.19"),
        der(0x01, Buffer.from([0xff])),
        der(0x04, sequence(der(0x01, Buffer.from([0xff])))),
      ),
      sequence(oid("2.5.29.14"), der(0x04, der(0x04, keyId))),
      // subjectAltName: iPAddress [7] 127.0.0.1, dNSName [2] localhost
      sequence(
        oid("2.5.29.17"),
        der(
          0x04,
          sequence(der(0x87, Buffer.from([127, 0, 0, 1])), der(0x82, Buffer.from("localhost", "ascii"))),
        ),
      ),
    ),
  );
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([0x02]))),
    der(0x02, serial),
    ecdsaWithSha256,
    name,
    validity,
    name,
    spki,
    extensions,
  );
  const signature = sign("sha256", tbs, privateKey); // DER-encoded ECDSA-Sig-Value
  const certificate = sequence(tbs, ecdsaWithSha256, der(0x03, Buffer.from([0x00]), signature));
  const base64 = certificate.toString("base64").replace(/.{1,64}/g, "$&\n");
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${base64}-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}
