// Ceiling 1: a bare Fastify process answering a small JSON object. Nothing the real server does per request
// (auth, validation, a database) is here: the fastest any route of this stack can be on this machine.
import Fastify from "fastify";

const app = Fastify({ logger: false });
app.get("/", async () => ({ hello: "world" }));
await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 0) });
const stop = () => void app.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
