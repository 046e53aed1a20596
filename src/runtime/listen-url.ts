import type { AddressInfo } from "node:net";
import type { Config } from "../config.js";

/** The base URL of this server as agents on this machine reach it (before listen: from the config). */
export function listenUrl(address: string | AddressInfo | null, config: Config): string {
  const a = typeof address === "object" && address !== null ? address : null;
  const port = a?.port ?? config.port;
  let host = a?.address ?? config.host;
  if (host === "0.0.0.0" || host === "::") host = "127.0.0.1";
  if (host.includes(":")) host = `[${host}]`;
  return `http://${host}:${port}`;
}
