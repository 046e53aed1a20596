// A hash router: every screen has an address (`#/tasks/task-1`) that survives reload and needs nothing from
// the server but `/`.
import { useEffect, useState } from "react";

export type Route =
  | { name: "inbox" }
  | { name: "missions" }
  | { name: "mission"; id: string }
  | { name: "task"; id: string }
  | { name: "agents" }
  | { name: "trace" }
  | { name: "knowledge" }
  | { name: "objectives" }
  | { name: "policies" }
  | { name: "not_found"; path: string };

export function parse(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/inbox";
  const parts = path
    .split("/")
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  const [a, b] = parts;
  if (parts.length === 1) {
    switch (a) {
      case "inbox":
      case "missions":
      case "agents":
      case "trace":
      case "knowledge":
      case "objectives":
      case "policies":
        return { name: a };
    }
  }
  if (parts.length === 2 && b) {
    if (a === "missions") return { name: "mission", id: b };
    if (a === "tasks") return { name: "task", id: b };
  }
  if (parts.length === 0) return { name: "inbox" };
  return { name: "not_found", path };
}

export const href = {
  mission: (id: string) => `#/missions/${encodeURIComponent(id)}`,
  task: (id: string) => `#/tasks/${encodeURIComponent(id)}`,
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}
