// warren's code interpreter driver for JavaScript: one long-lived node
// process of an E2B code context, run inside the sandbox as
// `node -e DRIVER`. The protocol is the Python driver's (e2b-driver.py):
// a request a line on stdin, JSON lines out. The code runs in one vm
// context that lives as long as the context; the value of its last
// statement (awaited when a promise) is sent through util.inspect. What
// console.* and process.stdout/stderr.write print is caught; programs it
// starts write to the real descriptors, which warrend reads as untrusted.
"use strict";
const fs = require("fs");
const readline = require("readline");
const util = require("util");
const vm = require("vm");

// fd 1 may be non-blocking: a full pipe answers EAGAIN, tried again
const send = (msg) => {
  const buf = Buffer.from(JSON.stringify(msg) + "\n");
  for (let off = 0; off < buf.length;) {
    try {
      off += fs.writeSync(1, buf, off);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
    }
  }
};
let current = 0;
const out = (type) => (...args) => {
  send({ id: current, type, text: util.format(...args) + "\n" });
};
const write = (type) => (chunk, encoding, cb) => {
  send({ id: current, type, text: typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8") });
  if (typeof encoding === "function") encoding();
  else if (typeof cb === "function") cb();
  return true;
};
process.stdout.write = write("stdout");
process.stderr.write = write("stderr");
const cons = { log: out("stdout"), info: out("stdout"), debug: out("stdout"),
               error: out("stderr"), warn: out("stderr"), dir: (o) => out("stdout")(util.inspect(o)) };
const context = vm.createContext({ console: cons, require, process, Buffer, setTimeout, clearTimeout,
                                   setInterval, clearInterval, URL, TextEncoder, TextDecoder });
let count = 0;
const queue = [];
let busy = false;

// Top-level await: the code again as an async function's body, its last
// line returned when that compiles (an expression), else as it is.
function compile(code) {
  try {
    return new vm.Script(code, { filename: "<cell>" });
  } catch (e) {
    if (!(e && e.name === "SyntaxError" && /\bawait\b/.test(code))) throw e;
    const lines = code.replace(/\s+$/, "").split("\n");
    const last = lines.pop();
    try {
      return new vm.Script("(async () => {\n" + lines.join("\n") + "\nreturn (" + last.replace(/;\s*$/, "") +
                           ");\n})()", { filename: "<cell>" });
    } catch (e2) {
      return new vm.Script("(async () => {\n" + code + "\n})()", { filename: "<cell>" });
    }
  }
}

async function execute(req) {
  current = Number(req.id) || 0;
  count += 1;
  const env = req.env || {};
  const saved = {};
  for (const k of Object.keys(env)) { saved[k] = process.env[k]; process.env[k] = String(env[k]); }
  try {
    let value = compile(String(req.code || "")).runInContext(context);
    if (value && typeof value.then === "function") value = await value;
    if (value !== undefined) send({ id: current, type: "result", text: util.inspect(value), is_main_result: true });
  } catch (e) {
    // (errors made in the vm's context are not this context's Error)
    const err = e !== null && typeof e === "object" && "message" in e ? e : { message: String(e) };
    send({ id: current, type: "error", name: String(err.name || "Error"), value: String(err.message),
           traceback: String(err.stack || err.message) });
  }
  for (const k of Object.keys(saved)) {
    if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
  }
  send({ id: current, type: "number_of_executions", execution_count: count });
  send({ id: current, type: "end_of_execution" });
}

async function drain() {
  if (busy) return;
  busy = true;
  while (queue.length) await execute(queue.shift());
  busy = false;
}

process.on("SIGINT", () => {});
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  try { queue.push(JSON.parse(line)); } catch (e) { return; }
  drain();
});
