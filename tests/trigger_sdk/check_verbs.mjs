// Every waitpoint verb of Trigger.dev's official SDK against a Waitpoints server, used as a
// Trigger.dev user would (configure, then call the verbs from backend code).
//
//   WAITPOINTS_URL=http://127.0.0.1:8000 WAITPOINTS_KEY=wp_prod_… WAITPOINTS_ENVIRONMENT=prod \
//     node check_verbs.mjs
//
// Prints one "ok <check>" line per check and, last, a JSON line {"checks": [...], "ids": {...}}
// for tests/trigger_sdk/test_trigger_sdk.py; the first failed check exits 1 with its error.
// Waits poll on conditions with a deadline; nothing asserts on timing.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import {
  auth,
  AuthenticationError,
  configure,
  NotFoundError,
  PermissionDeniedError,
  UnprocessableEntityError,
  wait,
  WaitpointTimeoutError,
} from "@trigger.dev/sdk";

const BASE_URL = process.env.WAITPOINTS_URL;
const SECRET_KEY = process.env.WAITPOINTS_KEY;
const ENVIRONMENT = process.env.WAITPOINTS_ENVIRONMENT;
assert.ok(BASE_URL && SECRET_KEY && ENVIRONMENT, "set WAITPOINTS_URL, _KEY and _ENVIRONMENT");
const DEADLINE_MS = 30_000;
const RUN = randomUUID().slice(0, 8); // keeps this run's tags and keys apart from any other

const checks = [];
const ids = {};

async function check(name, body) {
  try {
    await body();
  } catch (error) {
    console.error(`FAILED ${name}`);
    console.error(error?.stack ?? error);
    if (error?.rawBody !== undefined) console.error("raw body:", JSON.stringify(error.rawBody));
    process.exit(1);
  }
  checks.push(name);
  console.log(`ok ${name}`);
}

async function waitUntil(predicate, what) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function rejectsWith(promise, errorClass, status) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${error?.name}: ${error}`);
    assert.equal(error.status, status);
    return error;
  }
  assert.fail(`expected ${errorClass.name}, the call succeeded`);
}

function jwtClaims(token) {
  const parts = token.split(".");
  assert.equal(parts.length, 3, "a JWT");
  return JSON.parse(Buffer.from(parts[1], "base64url").toString());
}

// Every request the SDK makes goes through the global fetch: record the headers it sends.
const sentHeaders = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  sentHeaders.push(new Headers(init?.headers ?? (input instanceof Request ? input.headers : {})));
  return realFetch(input, init);
};

configure({ baseURL: BASE_URL, accessToken: SECRET_KEY });

// --- create ------------------------------------------------------------------------------------

let plain;
await check("create without options", async () => {
  plain = await wait.createToken();
  assert.match(plain.id, /^waitpoint_/);
  assert.equal(plain.isCached, false);
  assert.ok(plain.url.startsWith(`${BASE_URL}/api/v1/waitpoints/tokens/${plain.id}/callback/`));
  // The server's token (read from x-trigger-jwt), not one the SDK signed with the secret key.
  const claims = jwtClaims(plain.publicAccessToken);
  assert.equal(claims.sub, ENVIRONMENT);
  assert.deepEqual(claims.scopes, [`write:waitpoints:${plain.id}`]);
  assert.equal(claims.iss, undefined);
  const sent = sentHeaders.at(-1);
  assert.ok(sent.get("x-trigger-api-version") || sent.get("trigger-version"));
});

await check("retrieve WAITING without options", async () => {
  const token = await wait.retrieveToken(plain.id);
  assert.equal(token.id, plain.id);
  assert.equal(token.url, plain.url);
  assert.equal(token.status, "WAITING");
  assert.ok(token.createdAt instanceof Date && token.timeoutAt instanceof Date);
  // The default timeout is 10 minutes.
  assert.equal(token.timeoutAt.getTime() - token.createdAt.getTime() >= 9 * 60_000, true);
  assert.deepEqual(token.tags, []);
  // Absent values stay absent: no null, no 1970-01-01.
  assert.equal(token.completedAt, undefined);
  assert.equal(token.idempotencyKey, undefined);
  assert.equal(token.idempotencyKeyExpiresAt, undefined);
  assert.equal(token.output, undefined);
  assert.equal(token.error, undefined);
});

let keyed;
const idempotencyKey = `sdk-${RUN}`;
await check("create with every option (timeout as a duration)", async () => {
  keyed = await wait.createToken({
    timeout: "1h",
    idempotencyKey,
    idempotencyKeyTTL: "2h",
    tags: [`run:${RUN}`, "sdk"],
  });
  assert.equal(keyed.isCached, false);
  const token = await wait.retrieveToken(keyed);
  assert.equal(token.status, "WAITING");
  assert.deepEqual([...token.tags].sort(), [`run:${RUN}`, "sdk"].sort());
  assert.equal(token.idempotencyKey, idempotencyKey);
  assert.ok(token.idempotencyKeyExpiresAt instanceof Date);
  const ttl = token.idempotencyKeyExpiresAt.getTime() - token.createdAt.getTime();
  assert.ok(ttl > 119 * 60_000 && ttl <= 120 * 60_000 + 1000, `TTL ${ttl} ms`);
  const timeout = token.timeoutAt.getTime() - token.createdAt.getTime();
  assert.ok(timeout > 59 * 60_000 && timeout <= 60 * 60_000 + 1000, `timeout ${timeout} ms`);
});

await check("idempotent create returns the same token, cached", async () => {
  const again = await wait.createToken({ idempotencyKey, timeout: "5m", tags: ["other"] });
  assert.equal(again.id, keyed.id);
  assert.equal(again.isCached, true);
  assert.deepEqual(jwtClaims(again.publicAccessToken).scopes, [`write:waitpoints:${keyed.id}`]);
});

let dated;
await check("create with a timeout as a Date", async () => {
  const deadline = new Date(Date.now() + 2 * 3600_000);
  dated = await wait.createToken({ timeout: deadline, tags: `run:${RUN}` });
  const token = await wait.retrieveToken(dated.id);
  assert.equal(token.timeoutAt.getTime(), deadline.getTime());
  assert.deepEqual(token.tags, [`run:${RUN}`]);
});

// --- complete and retrieve finished tokens -----------------------------------------------------

await check("complete by object, retrieve an object output", async () => {
  const result = await wait.completeToken(keyed, { approved: true, by: ["ana"], n: 1.5 });
  assert.deepEqual(result, { success: true });
  const token = await wait.retrieveToken(keyed.id);
  assert.equal(token.status, "COMPLETED");
  assert.ok(token.completedAt instanceof Date && token.completedAt.getTime() > 0);
  assert.deepEqual(token.output, { approved: true, by: ["ana"], n: 1.5 });
  assert.equal(token.error, undefined);
  ids.object = keyed.id;
});

await check("complete by id, retrieve a string output", async () => {
  const result = await wait.completeToken(dated.id, "looks good");
  assert.deepEqual(result, { success: true });
  const token = await wait.retrieveToken(dated);
  assert.equal(token.status, "COMPLETED");
  assert.equal(token.output, "looks good");
});

await check("complete with null, retrieve a null output", async () => {
  const token = await wait.createToken({ tags: [`run:${RUN}`] });
  assert.deepEqual(await wait.completeToken(token.id, null), { success: true });
  const finished = await wait.retrieveToken(token.id);
  assert.equal(finished.status, "COMPLETED");
  assert.equal(finished.output, null);
  assert.equal(finished.error, undefined);
});

await check("a second completion changes nothing", async () => {
  assert.deepEqual(await wait.completeToken(keyed.id, { approved: false }), { success: true });
  assert.deepEqual((await wait.retrieveToken(keyed.id)).output, { approved: true, by: ["ana"], n: 1.5 });
});

await check("retrieve TIMED_OUT with its WaitpointTimeoutError", async () => {
  const token = await wait.createToken({ timeout: "1s", tags: [`run:${RUN}`, "timeout"] });
  const timedOut = await waitUntil(async () => {
    const current = await wait.retrieveToken(token.id);
    return current.status === "TIMED_OUT" && current;
  }, "the token to time out");
  assert.ok(timedOut.error instanceof WaitpointTimeoutError, `error: ${timedOut.error}`);
  assert.match(timedOut.error.message, /^Waitpoint timed out at /);
  assert.equal(timedOut.output, undefined);
  assert.ok(timedOut.completedAt instanceof Date);
  ids.timedOut = token.id;
});

// --- the callback URL and the public access token ----------------------------------------------

await check("a plain POST to the callback URL completes", async () => {
  const token = await wait.createToken({ tags: [`run:${RUN}`] });
  const response = await realFetch(token.url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ via: "callback", ok: true }),
  });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { success: true });
  const finished = await wait.retrieveToken(token.id);
  assert.equal(finished.status, "COMPLETED");
  assert.deepEqual(finished.output, { via: "callback", ok: true });
  ids.callback = token.id;
});

let browserToken;
let browserHeaders;
await check("complete with the public access token through auth.withAuth", async () => {
  browserToken = await wait.createToken({ tags: [`run:${RUN}`] });
  // As in a browser: the SDK adds x-trigger-client there (it looks for window.document).
  globalThis.window = { document: {} };
  let result;
  try {
    result = await auth.withAuth({ accessToken: browserToken.publicAccessToken }, async () => {
      // The token may complete only its own waitpoint: reading it is refused.
      await rejectsWith(wait.retrieveToken(browserToken.id), PermissionDeniedError, 403);
      const completed = await wait.completeToken(browserToken, { from: "browser" });
      browserHeaders = sentHeaders.at(-1);
      return completed;
    });
  } finally {
    delete globalThis.window;
  }
  assert.deepEqual(result, { success: true });
  assert.equal(browserHeaders.get("authorization"), `Bearer ${browserToken.publicAccessToken}`);
  assert.equal(browserHeaders.get("x-trigger-client"), "browser");
  const finished = await wait.retrieveToken(browserToken.id);
  assert.equal(finished.status, "COMPLETED");
  assert.deepEqual(finished.output, { from: "browser" });
  ids.publicAccessToken = browserToken.id;
});

await check("a browser's CORS preflight for complete allows every header the SDK sends", async () => {
  const requested = [...browserHeaders.keys()].sort();
  console.log(`  the SDK sent: ${requested.join(", ")}`);
  const origin = "https://app.example.com";
  const url = `${BASE_URL}/api/v1/waitpoints/tokens/${browserToken.id}/complete`;
  const preflight = await realFetch(url, {
    method: "OPTIONS",
    headers: {
      Origin: origin,
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": requested.join(","),
    },
  });
  assert.ok(preflight.status >= 200 && preflight.status < 300, `preflight ${preflight.status}`);
  const allowOrigin = preflight.headers.get("access-control-allow-origin");
  assert.ok(allowOrigin === "*" || allowOrigin === origin, `allow-origin ${allowOrigin}`);
  const methods = (preflight.headers.get("access-control-allow-methods") ?? "").toUpperCase();
  assert.ok(methods.split(/\s*,\s*/).includes("POST"), `allow-methods ${methods}`);
  const allowed = (preflight.headers.get("access-control-allow-headers") ?? "")
    .toLowerCase()
    .split(/\s*,\s*/);
  const missing = requested.filter((name) => !allowed.includes(name));
  assert.deepEqual(missing, [], `headers the preflight does not allow: ${missing}`);
  // The completion itself (already done: it still succeeds) carries the CORS answer.
  const answer = await realFetch(url, {
    method: "POST",
    headers: { ...Object.fromEntries(browserHeaders), Origin: origin },
    body: JSON.stringify({ data: "late" }),
  });
  assert.equal(answer.status, 200);
  assert.ok(answer.headers.get("access-control-allow-origin"));
});

// --- list --------------------------------------------------------------------------------------

await check("list: auto-pagination over several pages, newest first", async () => {
  const pageTag = `pages:${RUN}`;
  const created = [];
  for (let i = 0; i < 7; i++) created.push((await wait.createToken({ tags: [pageTag] })).id);
  const before = sentHeaders.length;
  const listed = [];
  for await (const token of wait.listTokens({ tags: pageTag, limit: 2 })) {
    assert.equal(token.status, "WAITING");
    assert.equal(token.completedAt, undefined);
    assert.equal(token.idempotencyKey, undefined);
    listed.push(token.id);
  }
  assert.deepEqual(listed, [...created].reverse());
  assert.equal(sentHeaders.length - before, 4, "7 tokens in pages of 2: 4 requests");
  // The page object too: getNextPage / hasNextPage.
  const first = await wait.listTokens({ tags: [pageTag], limit: 5 });
  assert.equal(first.data.length, 5);
  assert.equal(first.hasNextPage(), true);
  const second = await first.getNextPage();
  assert.deepEqual(second.data.map((token) => token.id), [created[1], created[0]]);
  assert.equal(second.hasNextPage(), false);
});

async function listIds(params) {
  const found = [];
  for await (const token of wait.listTokens(params)) found.push(token);
  return found;
}

await check("list: every filter", async () => {
  const tag = `run:${RUN}`;
  const all = await listIds({ tags: [tag] });
  // plain has no tags; keyed, dated, the null one, the timed-out one, callback, browser.
  assert.equal(all.length, 6, JSON.stringify(all.map((t) => t.id)));
  for (const token of all) assert.ok(token.tags.includes(tag));

  const completed = await listIds({ tags: tag, status: "COMPLETED" });
  assert.equal(completed.length, 5);
  assert.ok(completed.every((token) => token.status === "COMPLETED" && token.completedAt instanceof Date));
  const finished = await listIds({ tags: tag, status: ["COMPLETED", "TIMED_OUT"] });
  assert.equal(finished.length, 6);
  const timedOut = await listIds({ tags: [tag, "no-such-tag"], status: ["TIMED_OUT"] });
  assert.deepEqual(timedOut.map((token) => token.id), [ids.timedOut]);

  const byKey = await listIds({ idempotencyKey });
  assert.deepEqual(byKey.map((token) => token.id), [keyed.id]);
  assert.equal(byKey[0].idempotencyKey, idempotencyKey);
  assert.ok(byKey[0].idempotencyKeyExpiresAt instanceof Date);

  assert.equal((await listIds({ tags: tag, period: "1h" })).length, 6);
  const oldest = all.at(-1).createdAt;
  const newest = all[0].createdAt;
  const inRange = await listIds({ tags: tag, from: oldest, to: new Date(newest.getTime() + 1000) });
  assert.equal(inRange.length, 6);
  assert.equal((await listIds({ tags: tag, to: new Date(oldest.getTime() - 1000) })).length, 0);
  const fromMs = await listIds({ tags: tag, from: new Date(newest.getTime() + 1000).getTime() });
  assert.equal(fromMs.length, 0);
});

// --- errors ------------------------------------------------------------------------------------

await check("errors: 404 NotFoundError, 422 UnprocessableEntityError", async () => {
  const missing = await rejectsWith(wait.retrieveToken("waitpoint_doesnotexist"), NotFoundError, 404);
  assert.equal(missing.code, "not_found");
  await rejectsWith(wait.completeToken("waitpoint_doesnotexist", {}), NotFoundError, 404);
  const invalid = await rejectsWith(wait.createToken({ timeout: "soon" }), UnprocessableEntityError, 422);
  assert.equal(invalid.code, "invalid_input");
  assert.ok(invalid.message.length > 0);
  await rejectsWith(wait.listTokens({ status: "SLEEPING" }), UnprocessableEntityError, 422);
});

await check("errors: 401 AuthenticationError", async () => {
  await auth.withAuth({ accessToken: "wp_prod_not_a_real_key" }, async () => {
    const error = await rejectsWith(wait.retrieveToken(plain.id), AuthenticationError, 401);
    assert.equal(error.code, "invalid_api_key");
    await rejectsWith(wait.createToken(), AuthenticationError, 401);
  });
  await auth.withAuth({ accessToken: "not.a.jwt" }, async () => {
    await rejectsWith(wait.completeToken(plain.id, {}), AuthenticationError, 401);
  });
});

console.log(JSON.stringify({ checks, ids }));
