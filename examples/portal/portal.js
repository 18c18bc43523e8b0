// A learner portal on Podium's GraphQL API: plain JavaScript, no build step, no CDN. It runs on its own
// origin (list that origin in PODIUM_CORS_ORIGINS) and talks to Podium only, with the learner's token.
"use strict";

const SESSIONS = `query Catalogue($filter: SessionFilter) {
  sessions(filter: $filter, first: 50) { edges { node {
    id title startsAt endsAt timezone deliveryMode status capacity seatsLeft waitlistCount
    course { code title } venue { name city } room { name } } } } }`;
const CITIES = `query Cities { venues(first: 100) { edges { node { city } } } }`;
const ME = `query Me {
  me { id name calendarFeedUrl
    enrollments(upcoming: true, status: [ENROLLED, WAITLISTED, PENDING_APPROVAL], first: 100) { edges { node {
      id status waitlistPosition
      session { id title startsAt endsAt timezone venue { name city } } } } } } }`;
const ENROLL = `mutation Enroll($input: EnrollInput!) {
  enroll(input: $input) { enrollment { id status waitlistPosition } errors { code message } } }`;
const CANCEL = `mutation Cancel($input: CancelEnrollmentInput!) {
  cancelEnrollment(input: $input) { enrollment { id status } errors { code message } } }`;

const $ = (selector) => document.querySelector(selector);
// Podium's address: ?api=… in the page's URL, else the last one used, else a local Podium.
const state = { api: new URLSearchParams(location.search).get("api") || localStorage.getItem("podium.api")
                     || "http://127.0.0.1:8000",
                token: localStorage.getItem("podium.token") || "", me: null, mine: new Map(),
                asked: { sessions: 0, me: 0 } };

async function graphql(query, variables = {}) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  let response;
  try {
    response = await fetch(`${state.api.replace(/\/$/, "")}/graphql`,
                           { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  } catch (error) {
    throw new Error(`Podium at ${state.api} did not answer (is this page's origin in PODIUM_CORS_ORIGINS?)`);
  }
  const body = await response.json();
  if (body.errors && body.errors.length) {
    const code = body.errors[0].extensions && body.errors[0].extensions.code;
    throw new Error(code === "UNAUTHENTICATED" ? "That token is not valid: sign in again." : body.errors[0].message);
  }
  return body.data;
}

function say(text) { $("#message").textContent = text || ""; }

function when(session) {
  const options = { timeZone: session.timezone, weekday: "short", day: "numeric", month: "short",
                    hour: "2-digit", minute: "2-digit" };
  const start = new Date(session.startsAt).toLocaleString(undefined, options);
  const end = new Date(session.endsAt).toLocaleTimeString(undefined,
    { timeZone: session.timezone, hour: "2-digit", minute: "2-digit" });
  return `${start}–${end} (${session.timezone})`;
}

function where(session) {
  if (session.deliveryMode === "VIRTUAL") return "Online";
  const place = session.venue ? [session.venue.name, session.venue.city].filter(Boolean).join(", ") : "";
  const room = session.room ? session.room.name : "";
  return [room, place].filter(Boolean).join(" · ") + (session.deliveryMode === "HYBRID" ? " or online" : "");
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;  // text, never HTML: titles come from other people
  return node;
}

function seats(session) {
  if (session.seatsLeft > 0) return `${session.seatsLeft} of ${session.capacity} seats left`;
  return `Full: ${session.waitlistCount} on the waitlist`;
}

async function loadSessions() {
  const filter = { upcoming: true };
  if ($("#city").value) filter.city = $("#city").value;
  if ($("#search").value.trim()) filter.search = $("#search").value.trim();
  const ticket = ++state.asked.sessions;
  const data = await graphql(SESSIONS, { filter });
  if (ticket !== state.asked.sessions) return;  // a newer filter was asked for meanwhile: it draws the list
  const list = $("#sessions");
  list.replaceChildren();
  for (const { node: session } of data.sessions.edges) {
    const item = element("li");
    item.dataset.sessionId = session.id;
    item.append(element("div", "title", `${session.title} (${session.course.code})`),
                element("div", "meta when", when(session)), element("div", "meta where", where(session)));
    const count = element("div", `seats${session.seatsLeft > 0 ? "" : " full"}`, seats(session));
    item.append(count);
    const mine = state.mine.get(session.id);
    if (mine) {
      item.append(element("div", "mine", mine === "WAITLISTED" ? "You are on the waitlist" : "You are enrolled"));
    } else if (state.me && session.status === "SCHEDULED") {
      const button = element("button", "enrol", session.seatsLeft > 0 ? "Enrol" : "Join the waitlist");
      button.addEventListener("click", () => act(() => enrol(session.id)));
      item.append(button);
    }
    list.append(item);
  }
  if (!data.sessions.edges.length) list.append(element("li", "empty", "No upcoming sessions match."));
}

async function loadCities() {
  const data = await graphql(CITIES);
  const cities = [...new Set(data.venues.edges.map((e) => e.node.city).filter(Boolean))].sort();
  const select = $("#city");
  for (const city of cities) select.append(new Option(city, city));
}

function status(enrollment) {
  if (enrollment.status === "WAITLISTED") return `On the waitlist: waitlist position ${enrollment.waitlistPosition}`;
  if (enrollment.status === "PENDING_APPROVAL") return "Awaiting approval";
  return "Enrolled";
}

async function loadMine() {
  const ticket = ++state.asked.me;
  const data = state.token ? await graphql(ME) : { me: null };
  if (ticket !== state.asked.me) return;  // a newer answer draws the list
  const list = $("#enrollments");
  const feed = $("#calendar-feed");
  list.replaceChildren();
  state.me = data.me;
  state.mine = new Map();
  feed.hidden = !state.me;
  $("#who").textContent = state.me ? `Signed in as ${state.me.name}` : "";
  if (!state.token) {
    list.append(element("li", "empty", "Sign in with your token to enrol."));
    return;
  }
  if (!state.me) throw new Error("This token belongs to no person (the bootstrap admin token?).");
  feed.href = state.me.calendarFeedUrl;
  for (const { node: enrollment } of state.me.enrollments.edges) {
    state.mine.set(enrollment.session.id, enrollment.status);
    const item = element("li");
    item.dataset.enrollmentId = enrollment.id;
    item.append(element("div", "title", enrollment.session.title), element("div", "meta when", when(enrollment.session)),
                element("div", "status", status(enrollment)));
    const button = element("button", "cancel", "Cancel");
    button.addEventListener("click", () => act(() => cancel(enrollment.id)));
    item.append(button);
    list.append(item);
  }
  if (!state.me.enrollments.edges.length) list.append(element("li", "empty", "No upcoming enrolments."));
}

async function enrol(sessionId) {
  const data = await graphql(ENROLL, { input: { sessionId, learnerId: state.me.id } });
  const { enrollment, errors } = data.enroll;
  if (errors.length) throw new Error(errors[0].message);
  say(enrollment.status === "WAITLISTED" ? `The session is full: waitlist position ${enrollment.waitlistPosition}.`
                                         : enrollment.status === "ENROLLED" ? "You are enrolled." : "Awaiting approval.");
}

async function cancel(enrollmentId) {
  const data = await graphql(CANCEL, { input: { enrollmentId } });
  if (data.cancelEnrollment.errors.length) throw new Error(data.cancelEnrollment.errors[0].message);
  say("Cancelled.");
}

async function refresh() {
  await loadMine();
  await loadSessions();
}

async function act(change) {
  try {
    await change();
    await refresh();
  } catch (error) {
    say(error.message);
  }
}

let typing;
function start() {
  $("#api-url").value = state.api;
  $("#token").value = state.token;
  $("#connection").addEventListener("submit", (event) => {
    event.preventDefault();
    state.api = $("#api-url").value.trim();
    state.token = $("#token").value.trim();
    localStorage.setItem("podium.api", state.api);
    localStorage.setItem("podium.token", state.token);  // an example's choice; a real portal signs in properly
    say("");
    act(async () => { $("#city").replaceChildren(new Option("Any city", "")); await loadCities(); });
  });
  $("#sign-out").addEventListener("click", () => {
    state.token = "";
    $("#token").value = "";
    localStorage.removeItem("podium.token");
    act(async () => {});
  });
  $("#city").addEventListener("change", () => act(async () => {}));
  $("#search").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => act(async () => {}), 250);
  });
  $("#filters").addEventListener("submit", (event) => event.preventDefault());
  act(loadCities);
}

start();
