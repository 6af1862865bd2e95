#!/usr/bin/env node
/*
 * chat.mjs — the chat example (examples/chat.c) in a real browser: Debian's
 * Chromium, headless, driven by playwright-core (no browser download: it
 * runs the system's /usr/bin/chromium).
 *
 *	node tests/browser/chat.mjs BASE SCREENSHOT [ROOM]
 *	node tests/browser/chat.mjs --selftest
 *
 * BASE is durod's gateway (http://127.0.0.1:PORT), SCREENSHOT where to save
 * a PNG of the second tab at the end, ROOM the chat object's name (default:
 * a fresh random one). They may also come from the environment:
 * DURO_CHAT_BASE, DURO_CHAT_SCREENSHOT, DURO_CHAT_ROOM. CHROMIUM overrides
 * the browser's path, DURO_CHAT_TIMEOUT_MS the overall deadline (120 s).
 *
 * What it does, talking to its caller (test_chat_browser.py) in lines:
 *
 *   1. opens BASE/chat/ROOM/ in two tabs of one browser context, waits for
 *      "connected" in both tabs' #status, sets the nicknames (/nick alice,
 *      /nick bob), sends a line from each tab and waits for it in the
 *      other tab's #log; prints "PHASE1 OK";
 *   2. reads stdin until a line "CONTINUE" (the caller writes it once it
 *      has seen the room's worker hibernate, the WebSockets still open);
 *   3. checks both tabs still say "connected", sends from tab 1 (this wakes
 *      the object), waits for it in tab 2 (still from alice: the nickname
 *      lives in the connection's attachment, held by durod), saves the
 *      screenshot of tab 2, prints "PHASE2 OK" and exits 0.
 *
 * Any failure, page error (an uncaught exception in the page) or request
 * to anywhere but BASE (the page must be self-contained) prints
 * "FAIL: <why>" on stderr and exits 1. --selftest only launches Chromium,
 * loads a data: URL and prints "SELFTEST OK <browser version>".
 */
import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT_MS = Number(process.env.DURO_CHAT_TIMEOUT_MS || 120000);
const STEP_MS = 30000; /* one wait for the page; generous for a loaded box */

let step = "starting";
let browser = null;

function fail(msg) {
	process.stderr.write(`FAIL: ${msg} (step: ${step})\n`);
	process.exit(1);
}

async function launch() {
	step = `launching ${CHROMIUM}`;
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ["--no-sandbox"],
		timeout: STEP_MS,
	});
}

async function selftest() {
	browser = await launch();
	step = "loading a data: URL";
	const page = await browser.newPage();
	await page.goto("data:text/html,<title>duro</title><p id=x>hello</p>");
	const text = await page.textContent("#x");
	if (text !== "hello" || (await page.title()) !== "duro")
		fail(`the data: page reads ${JSON.stringify(text)}`);
	console.log(`SELFTEST OK ${browser.version()}`);
}

/* Every tab: page errors and foreign requests fail the run. */
function watch(page, name, base) {
	page.on("pageerror", (e) => fail(`${name}: error in the page: ${e.message}`));
	page.on("request", (r) => {
		const u = r.url();
		const ws = base.replace(/^http/, "ws");
		if (!u.startsWith(base) && !u.startsWith(ws) && !u.startsWith("data:"))
			fail(`${name}: the page requested ${u}: it must be self-contained`);
	});
}

async function waitStatus(page, name, want) {
	step = `waiting for #status "${want}" in ${name}`;
	await page.waitForFunction(
	    (w) => (document.querySelector("#status")?.textContent ?? "").trim() === w,
	    want, { timeout: STEP_MS });
}

async function say(page, name, text) {
	step = `${name} sends ${JSON.stringify(text)}`;
	await page.fill("#msg", text);
	await page.click("#send");
	/* The page clears the input once the frame is handed to the socket. */
	await page.waitForFunction(() => document.querySelector("#msg").value === "",
	    null, { timeout: STEP_MS });
}

/* A line of #log with both the sender's nick and the text. */
async function expectLine(page, name, from, text) {
	step = `waiting in ${name}'s #log for ${from}: ${JSON.stringify(text)}`;
	await page.waitForFunction(([f, t]) => {
		const log = document.querySelector("#log");
		return log !== null && [...log.children].some((e) =>
		    e.textContent.includes(f) && e.textContent.includes(t));
	}, [from, text], { timeout: STEP_MS });
}

function readContinue() {
	step = 'waiting for "CONTINUE" on stdin';
	return new Promise((resolve) => {
		const rl = createInterface({ input: process.stdin });
		let seen = false;
		rl.on("line", (line) => {
			if (!seen && line.trim() === "CONTINUE") {
				seen = true;
				rl.close();
				resolve();
			}
		});
		rl.on("close", () => {
			if (!seen)
				fail("stdin closed before CONTINUE");
		});
	});
}

async function chat(base, shot, room) {
	base = base.replace(/\/+$/, "");
	const url = `${base}/chat/${encodeURIComponent(room)}/`;
	const token = randomBytes(4).toString("hex");

	browser = await launch();
	const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
	const tabs = [await context.newPage(), await context.newPage()];
	const names = ["tab 1", "tab 2"];
	tabs.forEach((p, i) => watch(p, names[i], base));
	for (let i = 0; i < 2; i++) {
		step = `loading ${url} in ${names[i]}`;
		const r = await tabs[i].goto(url, { timeout: STEP_MS });
		if (r === null || r.status() !== 200)
			fail(`GET ${url}: status ${r === null ? "none" : r.status()}`);
		if (!(r.headers()["content-type"] || "").startsWith("text/html"))
			fail(`GET ${url}: Content-Type ${r.headers()["content-type"]}`);
	}
	for (let i = 0; i < 2; i++)
		await waitStatus(tabs[i], names[i], "connected");

	await say(tabs[0], names[0], "/nick alice");
	await say(tabs[1], names[1], "/nick bob");
	const one = `hello from alice ${token}`;
	const two = `hello from bob ${token}`;
	await say(tabs[0], names[0], one);
	await expectLine(tabs[1], names[1], "alice", one);
	await say(tabs[1], names[1], two);
	await expectLine(tabs[0], names[0], "bob", two);
	await expectLine(tabs[1], names[1], "bob", two);
	console.log("PHASE1 OK");

	await readContinue();
	for (let i = 0; i < 2; i++)
		await waitStatus(tabs[i], names[i], "connected");
	const three = `after hibernation ${token}`;
	await say(tabs[0], names[0], three);
	await expectLine(tabs[1], names[1], "alice", three);
	await expectLine(tabs[0], names[0], "alice", three);
	step = `saving the screenshot ${shot}`;
	await tabs[1].screenshot({ path: shot, fullPage: true });
	console.log("PHASE2 OK");
}

async function main() {
	const args = process.argv.slice(2);
	const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);
	try {
		if (args[0] === "--selftest") {
			await selftest();
		} else {
			const base = args[0] || process.env.DURO_CHAT_BASE;
			const shot = args[1] || process.env.DURO_CHAT_SCREENSHOT;
			const room = args[2] || process.env.DURO_CHAT_ROOM ||
			    `room-${randomBytes(4).toString("hex")}`;
			if (!base || !shot)
				fail("usage: chat.mjs BASE SCREENSHOT [ROOM] | --selftest");
			await chat(base, shot, room);
		}
	} catch (e) {
		fail(e && e.message ? e.message.split("\n")[0] : String(e));
	}
	clearTimeout(timer);
	step = "closing the browser";
	await browser?.close();
	process.exit(0);
}

main();
