{% load i18n %}{% autoescape off %}/* leadsea mobile service worker: caches the app shell, and answers with an offline page when the network
   is down. Pages themselves are never cached: they carry live, per-user data. */
const CACHE = "leadsea-m-{{ version }}";
const OFFLINE = {{ offline_url }};
const SHELL = {{ shell_json }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("leadsea-m-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE)));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(request, {ignoreSearch: true}).then((hit) => hit || fetch(request)));
  } else if (request.headers.get("HX-Request")) {
    event.respondWith(fetch(request).catch(() => new Response(
      '<p class="error m-error" role="alert">{% filter escapejs %}{% translate "You are offline: the list will load when the network is back." %}{% endfilter %}</p>',
      {headers: {"Content-Type": "text/html; charset=utf-8"}}
    )));
  }
});
{% endautoescape %}
