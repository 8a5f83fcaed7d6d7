// Node's built-in fetch as a client of the matrix: reads jobs (JSON lines) on stdin, sends each through
// the proxy with undici's ProxyAgent (Node's fetch is undici), following redirects fetch's own way,
// and prints one JSON line per job.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { ProxyAgent } from "undici";

const agents = new Map();
function agent(proxy, ca) {
  const key = `${proxy} ${ca ?? ""}`;
  if (!agents.has(key)) {
    const tls = ca ? { ca: readFileSync(ca) } : {};
    agents.set(key, new ProxyAgent({ uri: proxy, requestTls: tls, proxyTls: tls }));
  }
  return agents.get(key);
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const job = JSON.parse(line);
  const init = {
    method: job.method,
    headers: job.headers,
    redirect: job.follow ? "follow" : "manual",
    dispatcher: agent(job.proxy, job.ca),
    signal: AbortSignal.timeout(job.timeout * 1000),
  };
  // A string body: undici 6 cannot replay a Buffer on 307/308 ("detached ArrayBuffer"); the matrix
  // sends ASCII bodies, so this measures redirects, not that bug.
  if (job.body_b64 !== null) init.body = Buffer.from(job.body_b64, "base64").toString("latin1");
  try {
    const response = await fetch(job.url, init);
    await response.arrayBuffer();
    console.log(JSON.stringify({ id: job.id, ok: true, status: response.status }));
  } catch (error) {
    console.log(JSON.stringify({ id: job.id, ok: false, error: String(error.cause ?? error).slice(0, 200) }));
  }
}
