#!/usr/bin/env node
// Every relative link in the READMEs and docs/ must name a file inside this repository that exists: users read these
// files on npm and in a clone, where nothing outside the repository can be opened. Exits 1 and lists the bad links.
// `--files a.md b.md` checks only those (used by the checker's own test).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function markdownFiles() {
  const out = ["README.md"].map((f) => join(root, f));
  for (const group of ["packages", "apps"]) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const readme = join(dir, name, "README.md");
      if (existsSync(readme)) out.push(readme);
    }
  }
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".md")) out.push(p);
    }
  };
  walk(join(root, "docs"));
  return out.filter((f) => existsSync(f));
}

const i = process.argv.indexOf("--files");
const files = i >= 0 ? process.argv.slice(i + 1).map((f) => resolve(f)) : markdownFiles();
const bad = [];
for (const file of files) {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1];
    if (/^[a-z]+:/i.test(target) || target.startsWith("#")) continue;
    const path = resolve(dirname(file), decodeURIComponent(target.split("#")[0]));
    const rel = relative(root, path);
    if (rel.startsWith("..") || !existsSync(path)) bad.push(`${relative(root, file) || file}: ${target}`);
  }
}
if (bad.length > 0) {
  console.error(`links to files that are not in the repository:\n  ${bad.join("\n  ")}`);
  process.exit(1);
}
console.log(`links: ${files.length} markdown files, every relative link resolves inside the repository`);
