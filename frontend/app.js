// The front end of the Kakao login: no build step, no framework, no tokens.
//
// The page holds nothing secret. The session lives on the API behind an
// HttpOnly cookie; in token-mediating mode the access token is kept in this
// closure's memory only and renewed through /auth/refresh before it expires.
// Nothing is ever written to localStorage, sessionStorage or a readable cookie.
"use strict";

(() => {
  const LOGIN_ERRORS = {
    access_denied: "You cancelled the login at Kakao. Nothing was shared.",
    invalid_state:
      "That login was started in another browser, already used, or expired. Please log in again.",
    config_stale:
      "The login service's configuration is out of date, so the login was stopped before reaching Cognito. An operator should run `make doctor`.",
    config_unavailable: "The login service cannot read its configuration right now. Please try again shortly.",
    invalid_id_token: "Your identity could not be verified, so no session was created. Please try again.",
    login_failed: "Kakao or Cognito could not complete the login. Please try again.",
    upstream_unavailable: "Cognito did not answer in time. Please try again.",
    session_store_unavailable: "Sessions are unavailable right now. Please try again shortly.",
    unsupported_identity_provider: "That identity provider is not enabled for this app.",
    invalid_return_to: "The login link pointed outside this site and was refused.",
  };
  const CODE_PATTERN = /^[a-z_]{1,40}$/;
  const REFRESH_MARGIN_SECONDS = 60;
  const RECHECK_SECONDS = 30;

  const el = (id) => document.getElementById(id);
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("kakao-login") : null;

  let localConfig = null; // frontend/config.json: API base URL and fingerprint
  let publicConfig = null; // /api/config: what the API serves now
  let accessToken = null; // token-mediating mode only; memory, never storage
  let refreshTimer = null;
  let expiresAt = null;

  function show(section) {
    for (const id of ["loading", "signed-out", "signed-in"]) {
      el(id).hidden = id !== section;
    }
  }

  // Messages accumulate until the page is reloaded: a login error and a
  // config warning found on the same load are both worth reading.
  const shown = [];
  function say(text, isError) {
    if (!text || shown.includes(text)) return;
    shown.push(text);
    const box = el("message");
    box.textContent = shown.join("\n\n");
    box.classList.toggle("error", Boolean(isError) || box.classList.contains("error"));
    box.hidden = false;
  }

  async function loadLocalConfig() {
    const answer = await fetch("/config.json", { cache: "no-store" });
    if (!answer.ok) throw new Error("config.json is missing: run `make sync-config`");
    localConfig = await answer.json();
    el("stage").textContent = `stage ${localConfig.stage}`;
  }

  async function callApi(path, method = "GET", body = undefined) {
    const headers = {};
    if (method !== "GET") {
      headers["X-CSRF"] = "1";
      headers["Content-Type"] = "application/json";
    }
    const answer = await fetch(localConfig.api_base_url + path, {
      method,
      headers,
      credentials: "include",
      cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try {
      data = await answer.json();
    } catch (_) {
      data = {};
    }
    return { status: answer.status, data };
  }

  // The API's public config carries a fingerprint; when it differs from ours the
  // page reloads its own config once, and says so if they still disagree.
  async function checkConfig() {
    const { status, data } = await callApi("/api/config");
    if (status !== 200) {
      say(LOGIN_ERRORS[data.error] || "The login service is unavailable.", true);
      return false;
    }
    publicConfig = data;
    if (data.fingerprint !== localConfig.fingerprint) {
      await loadLocalConfig();
    }
    el("fingerprint").textContent = `config ${localConfig.fingerprint}`;
    if (data.fingerprint !== localConfig.fingerprint) {
      say(
        `This page's config (${localConfig.fingerprint}) differs from the API's ` +
          `(${data.fingerprint}). Logins will be refused until an operator runs ` +
          "`make sync-config`.",
        true,
      );
    }
    return true;
  }

  function takeLoginError() {
    const url = new URL(window.location.href);
    const code = url.searchParams.get("login_error");
    if (code === null) return;
    url.searchParams.delete("login_error");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    const known = CODE_PATTERN.test(code) ? LOGIN_ERRORS[code] : undefined;
    say(known || "The login did not complete. Please try again.", true);
  }

  // For deployments whose registered callback is this page: hand the code to the
  // API, then take code and state out of the address bar and history.
  async function exchangeCodeInUrl() {
    const url = new URL(window.location.href);
    const code = url.searchParams.get("code");
    const state = url.searchParams.get("state");
    if (code === null && state === null) return;
    url.searchParams.delete("code");
    url.searchParams.delete("state");
    const { status, data } = await callApi("/auth/token", "POST", { code, state });
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    if (status === 200) {
      keepAccessToken(data);
      channel?.postMessage("login");
    } else {
      say(LOGIN_ERRORS[data.error] || "The login did not complete. Please try again.", true);
    }
  }

  function tokenMediating() {
    return publicConfig !== null && publicConfig.token_delivery === "token-mediating";
  }

  function keepAccessToken(data) {
    clearTimeout(refreshTimer);
    if (!data.access_token) return;
    accessToken = data.access_token;
    const delay = Math.max(5, (data.expires_in || 0) - REFRESH_MARGIN_SECONDS);
    refreshTimer = setTimeout(refresh, delay * 1000);
  }

  async function refresh() {
    const { status, data } = await callApi("/auth/refresh", "POST");
    if (status === 200) keepAccessToken(data);
    else if (status === 401) signedOut();
    else refreshTimer = setTimeout(refresh, 15000);
  }

  function signedOut() {
    accessToken = null;
    clearTimeout(refreshTimer);
    refreshTimer = null;
    expiresAt = null;
    show("signed-out");
  }

  function renderUser(user) {
    el("user-name").textContent = user.name || "(no nickname)";
    const email = el("user-email");
    email.textContent = user.email || "not shared";
    email.classList.toggle("not-shared", !user.email);
    el("user-provider").textContent = user.identity_provider;
    expiresAt = Date.now() + user.session_expires_in * 1000;
    tick();
    show("signed-in");
  }

  function tick() {
    if (expiresAt === null) return;
    const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    el("session-left").textContent = `${minutes} min ${left % 60} s left`;
  }

  async function refreshUser() {
    const { status, data } = await callApi("/api/user-info");
    if (status === 200) {
      renderUser(data);
      // Token-mediating mode: a reloaded page has no access token in memory
      // yet; one refresh hands it a fresh one.
      if (tokenMediating() && accessToken === null && refreshTimer === null) {
        refreshTimer = setTimeout(refresh, 0);
      }
    } else if (status === 401) {
      signedOut();
    } else {
      say(LOGIN_ERRORS[data.error] || "The login service is unavailable.", true);
      if (el("loading").hidden === false) show("signed-out");
    }
  }

  // The config is read again at the click: a page left open across a redeploy
  // logs in with what is deployed now, and a stale config is refused by the API.
  async function login() {
    try {
      await loadLocalConfig();
    } catch (error) {
      say(error.message, true);
      return;
    }
    const target = new URL(localConfig.api_base_url + "/auth/login");
    target.searchParams.set("return_to", window.location.pathname);
    target.searchParams.set("fingerprint", localConfig.fingerprint);
    // In token-mediating mode Cognito returns to this page, which hands the
    // code to /auth/token and receives the access token in the response body.
    if (tokenMediating()) target.searchParams.set("flow", "frontend");
    window.location.assign(target.toString());
  }

  async function logout() {
    el("logout").disabled = true;
    const { status, data } = await callApi("/auth/logout", "POST");
    el("logout").disabled = false;
    channel?.postMessage("logout");
    signedOut();
    if (status === 200 && data.logout_url) {
      window.location.assign(data.logout_url);
    }
  }

  async function start() {
    el("login").addEventListener("click", login);
    el("logout").addEventListener("click", logout);
    try {
      await loadLocalConfig();
    } catch (error) {
      say(error.message, true);
      show("signed-out");
      el("login").disabled = true;
      return;
    }
    takeLoginError();
    try {
      await exchangeCodeInUrl();
      await checkConfig();
      await refreshUser();
    } catch (_) {
      say(`Cannot reach the login API at ${localConfig.api_base_url}.`, true);
      show("signed-out");
    }
    channel?.addEventListener("message", () => refreshUser());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refreshUser();
    });
    setInterval(tick, 1000);
    setInterval(() => {
      checkConfig().then(refreshUser).catch(() => undefined);
    }, RECHECK_SECONDS * 1000);
  }

  start();
})();
