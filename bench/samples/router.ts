// A tiny HTTP router with middleware, path parameters and typed handlers.

import { IncomingMessage, ServerResponse, createServer } from "node:http";

export type Params = Record<string, string>;

export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  params: Params;
  query: URLSearchParams;
  state: Map<string, unknown>;
}

export type Handler = (ctx: Context) => Promise<void> | void;
export type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

export class HttpError extends Error {
  constructor(public readonly status: number, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

function compile(path: string): { pattern: RegExp; keys: string[] } {
  const keys: string[] = [];
  const source = path
    .split("/")
    .map((part) => {
      if (part.startsWith(":")) {
        keys.push(part.slice(1));
        return "([^/]+)";
      }
      if (part === "*") {
        keys.push("rest");
        return "(.*)";
      }
      return part.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return { pattern: new RegExp(`^${source}/?$`), keys };
}

export class Router {
  private routes: Route[] = [];
  private middleware: Middleware[] = [];

  use(mw: Middleware): this {
    this.middleware.push(mw);
    return this;
  }

  add(method: string, path: string, handler: Handler): this {
    const { pattern, keys } = compile(path);
    this.routes.push({ method: method.toUpperCase(), pattern, keys, handler });
    return this;
  }

  get(path: string, handler: Handler): this {
    return this.add("GET", path, handler);
  }

  post(path: string, handler: Handler): this {
    return this.add("POST", path, handler);
  }

  delete(path: string, handler: Handler): this {
    return this.add("DELETE", path, handler);
  }

  match(method: string, pathname: string): { route: Route; params: Params } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) {
        continue;
      }
      const found = route.pattern.exec(pathname);
      if (!found) {
        continue;
      }
      const params: Params = {};
      route.keys.forEach((key, i) => {
        params[key] = decodeURIComponent(found[i + 1]);
      });
      return { route, params };
    }
    return undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const matched = this.match(req.method ?? "GET", url.pathname);
    const ctx: Context = {
      req,
      res,
      params: matched?.params ?? {},
      query: url.searchParams,
      state: new Map(),
    };
    const chain = [...this.middleware];
    const run = async (i: number): Promise<void> => {
      if (i < chain.length) {
        await chain[i](ctx, () => run(i + 1));
        return;
      }
      if (!matched) {
        throw new HttpError(404, `no route for ${req.method} ${url.pathname}`);
      }
      await matched.route.handler(ctx);
    };
    try {
      await run(0);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      sendJson(res, status, { error: message });
    }
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve) => {
      createServer((req, res) => void this.handle(req, res)).listen(port, resolve);
    });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
}

export async function readJson<T>(req: IncomingMessage, limit = 1_000_000): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) {
      throw new HttpError(413, "request body too large");
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as T;
  } catch {
    throw new HttpError(400, "invalid JSON body");
  }
}

export const logger: Middleware = async (ctx, next) => {
  const started = Date.now();
  await next();
  const elapsed = Date.now() - started;
  console.log(`${ctx.req.method} ${ctx.req.url} ${ctx.res.statusCode} ${elapsed}ms`);
};

interface Todo {
  id: number;
  title: string;
  done: boolean;
}

const todos = new Map<number, Todo>();
let nextId = 1;

export const app = new Router()
  .use(logger)
  .get("/todos", (ctx) => {
    sendJson(ctx.res, 200, [...todos.values()]);
  })
  .post("/todos", async (ctx) => {
    const body = await readJson<{ title?: string }>(ctx.req);
    if (!body.title) {
      throw new HttpError(400, "title is required");
    }
    const todo: Todo = { id: nextId++, title: body.title, done: false };
    todos.set(todo.id, todo);
    sendJson(ctx.res, 201, todo);
  })
  .delete("/todos/:id", (ctx) => {
    const id = Number(ctx.params.id);
    if (!todos.delete(id)) {
      throw new HttpError(404, `todo ${id} not found`);
    }
    sendJson(ctx.res, 204, null);
  });
