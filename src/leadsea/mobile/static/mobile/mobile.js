/* leadsea mobile: the browser's position for the nearby list, the map and the check-in form; the service
   worker. No build step, no framework: plain DOM and htmx (for the page fragments). */
(function () {
  "use strict";

  var KEY = "leadsea.position";

  function fmt(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (_, k) {
      return values[k] === undefined ? "" : values[k];
    });
  }

  function msg(el, key) {
    return (el && el.getAttribute("data-msg-" + key)) || "";
  }

  function save(p) {
    try { sessionStorage.setItem(KEY, JSON.stringify(p)); } catch (e) { /* private mode */ }
  }

  function load() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }

  // Haversine in metres, as leadsea.core.geo.haversine_m (for the "how far am I" hint only).
  function haversine(lat1, lng1, lat2, lng2) {
    var r = Math.PI / 180, R = 6371008.8;
    var dphi = (lat2 - lat1) * r, dl = (lng2 - lng1) * r;
    var h = Math.pow(Math.sin(dphi / 2), 2) + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.pow(Math.sin(dl / 2), 2);
    return 2 * R * Math.asin(Math.sqrt(Math.min(1, h)));
  }

  function distanceText(el, m) {
    if (m < 1000) return fmt(msg(el, "m"), {n: Math.round(m)});
    return fmt(msg(el, "km"), {n: (m / 1000).toFixed(m < 10000 ? 1 : 0)});
  }

  // Browsers give WGS-84, which is what the server stores.
  function locate(ok, fail) {
    if (!("geolocation" in navigator)) { fail({code: 2}); return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      ok({lat: pos.coords.latitude, lng: pos.coords.longitude, accuracy: pos.coords.accuracy,
          coord_sys: "wgs84", source: "gps"});
    }, fail, {enableHighAccuracy: true, timeout: 15000, maximumAge: 30000});
  }

  // ----------------------------------------------------------------------------- nearby list and map

  function initNearby() {
    var form = document.getElementById("nearby-form");
    if (!form) return;
    var box = document.getElementById("position");
    var status = document.getElementById("position-status");
    var manual = document.getElementById("manual");
    var target = document.getElementById("nearby");

    function refresh() {
      if (!form.elements.lat.value) return;
      var params = new URLSearchParams(new FormData(form));
      var url = form.getAttribute("data-fragment");
      url += (url.indexOf("?") === -1 ? "?" : "&") + params.toString();
      if (window.htmx) {
        htmx.ajax("GET", url, {target: target, swap: "innerHTML"});
      } else {
        form.submit();
      }
    }

    function use(p, label) {
      form.elements.lat.value = Number(p.lat).toFixed(6);
      form.elements.lng.value = Number(p.lng).toFixed(6);
      form.elements.coord_sys.value = p.coord_sys || "wgs84";
      status.textContent = label;
      save(p);
      refresh();
    }

    function run() {
      status.textContent = msg(box, "locating");
      locate(function (p) {
        use(p, fmt(msg(box, "located"), {acc: Math.round(p.accuracy)}));
      }, function (err) {
        var last = load();
        status.textContent = msg(box, err && err.code === 1 ? "denied" : "failed");
        manual.open = true;
        if (last && !form.elements.lat.value) {
          use(last, msg(box, "last") + " · " + Number(last.lat).toFixed(5) + ", " + Number(last.lng).toFixed(5));
        }
      });
    }

    form.addEventListener("change", refresh);
    form.addEventListener("submit", function (e) { e.preventDefault(); refresh(); });
    box.querySelector("[data-locate]").addEventListener("click", run);

    var district = document.querySelector("[data-district]");
    if (district) {
      district.addEventListener("change", function () {
        var parts = district.value.split(",");
        var mform = district.form;
        if (parts.length === 2) {
          mform.elements.lat.value = parts[0];
          mform.elements.lng.value = parts[1];
          mform.elements.coord_sys.value = "wgs84";
        }
      });
    }

    if (form.elements.lat.value) {
      // A position in the address (set by hand, or back from a claim): the server has rendered the list.
      save({lat: +form.elements.lat.value, lng: +form.elements.lng.value, coord_sys: form.elements.coord_sys.value,
            source: "manual"});
      if (form.getAttribute("data-rendered") !== "1") refresh();
    } else {
      run();
    }
  }

  // A plain grid under the markers when no tile server is configured: it pans and zooms with the map.
  function gridLayer() {
    var Grid = L.GridLayer.extend({
      createTile: function () {
        var tile = document.createElement("canvas");
        var size = this.getTileSize();
        tile.width = size.x;
        tile.height = size.y;
        var ctx = tile.getContext("2d");
        ctx.fillStyle = "#eef2f6";
        ctx.fillRect(0, 0, size.x, size.y);
        ctx.strokeStyle = "#d5dde6";
        ctx.lineWidth = 1;
        ctx.beginPath();
        for (var i = 0; i <= size.x; i += size.x / 4) {
          ctx.moveTo(i + 0.5, 0); ctx.lineTo(i + 0.5, size.y);
          ctx.moveTo(0, i + 0.5); ctx.lineTo(size.x, i + 0.5);
        }
        ctx.stroke();
        return tile;
      }
    });
    return new Grid();
  }

  var COLOURS = {public: "#0f6fde", mine: "#2e7d32", taken: "#8a94a3"};

  function initMap() {
    var el = document.getElementById("map");
    if (!el || !window.L) return;
    var map = L.map(el, {zoomControl: true, attributionControl: false, tap: true}).setView([35, 105], 4);
    var tileUrl = el.getAttribute("data-tile-url");
    if (tileUrl) {
      L.tileLayer(tileUrl, {maxZoom: 19, attribution: el.getAttribute("data-tile-attribution") || ""}).addTo(map);
      if (el.getAttribute("data-tile-attribution")) L.control.attribution({prefix: false}).addTo(map);
    } else {
      gridLayer().addTo(map);
    }
    L.control.scale({imperial: false, maxWidth: 120}).addTo(map);
    var layer = L.layerGroup().addTo(map);
    window.leadseaMap = map;

    function popup(item) {
      var wrap = document.createElement("div");
      wrap.className = "m-popup";
      var name = document.createElement(item.getAttribute("data-url") ? "a" : "b");
      name.textContent = item.getAttribute("data-name");
      if (item.getAttribute("data-url")) name.href = item.getAttribute("data-url");
      wrap.appendChild(name);
      var meta = document.createElement("div");
      meta.textContent = item.getAttribute("data-distance") + " · " + msg(el, item.getAttribute("data-status"));
      wrap.appendChild(meta);
      return wrap;
    }

    function draw() {
      layer.clearLayers();
      var results = document.querySelector("#nearby .m-results[data-map-lat]");
      if (!results) return;
      var centre = [+results.getAttribute("data-map-lat"), +results.getAttribute("data-map-lng")];
      var circle = L.circle(centre, {radius: +results.getAttribute("data-radius"), color: "#0f6fde", weight: 1,
                                     dashArray: "4 4", fillOpacity: 0.04, interactive: false}).addTo(layer);
      results.querySelectorAll(".m-item[data-map-lat]").forEach(function (item) {
        var status = item.getAttribute("data-status");
        var marker = L.circleMarker([+item.getAttribute("data-map-lat"), +item.getAttribute("data-map-lng")], {
          radius: 11, color: "#fff", weight: 2, fillColor: COLOURS[status] || "#0f6fde", fillOpacity: 0.95
        });
        marker.bindPopup(popup(item));
        marker.on("add", function () {
          var path = marker.getElement && marker.getElement();
          if (path) {
            path.setAttribute("data-lead", item.getAttribute("data-lead"));
            path.classList.add("m-marker");
          }
        });
        marker.addTo(layer);
      });
      L.circleMarker(centre, {radius: 7, color: "#fff", weight: 3, fillColor: "#c62828", fillOpacity: 1,
                              interactive: false}).addTo(layer);
      map.fitBounds(circle.getBounds(), {padding: [12, 12]});
    }

    document.body.addEventListener("htmx:afterSettle", function (e) {
      if (e.target && e.target.id === "nearby") draw();
    });
    draw();
  }

  // ------------------------------------------------------------------------------------------ check-in

  function initCheckin() {
    var form = document.getElementById("checkin-form");
    if (!form) return;
    var status = document.getElementById("checkin-position");
    var manualBox = document.getElementById("manual-position");
    var storeLat = parseFloat(form.getAttribute("data-store-lat"));
    var storeLng = parseFloat(form.getAttribute("data-store-lng"));
    var radius = +form.getAttribute("data-radius");
    if (form.getAttribute("data-manual-open") !== "1" && !form.elements.lat.value) manualBox.hidden = true;

    function located(p) {
      form.elements.lat.value = p.lat.toFixed(7);
      form.elements.lng.value = p.lng.toFixed(7);
      form.elements.accuracy_m.value = Math.round(p.accuracy);
      form.elements.coord_sys.value = "wgs84";
      form.elements.position_source.value = "gps";
      var text = fmt(msg(form, "located"), {acc: Math.round(p.accuracy)});
      if (!isNaN(storeLat)) {
        var d = haversine(p.lat, p.lng, storeLat, storeLng);
        text += " · " + fmt(msg(form, "distance"), {d: distanceText(form, d)}) + " · " +
          fmt(msg(form, d <= radius ? "inside" : "outside"), {r: radius});
        status.className = "m-pos-status " + (d <= radius ? "ok" : "warn");
      }
      status.textContent = text;
      save(p);
      // A fresh fix answers the "no position" error of the last attempt.
      form.querySelectorAll("#position-field .error").forEach(function (e) { e.remove(); });
      document.getElementById("position-field").classList.remove("has-error");
    }

    function failed(err) {
      status.textContent = msg(form, err && err.code === 1 ? "denied" : "failed");
      status.className = "m-pos-status warn";
      manualBox.hidden = false;
    }

    function run() {
      status.textContent = msg(form, "locating");
      locate(located, failed);
    }

    form.querySelector("[data-locate]").addEventListener("click", run);
    form.querySelector("[data-manual-toggle]").addEventListener("click", function () {
      manualBox.hidden = false;
      form.elements.lat.focus();
    });
    // A position typed by hand has no accuracy of its own.
    ["lat", "lng"].forEach(function (name) {
      form.elements[name].addEventListener("input", function () {
        form.elements.accuracy_m.value = "";
        form.elements.position_source.value = "manual";
      });
    });
    var contact = form.querySelector("[data-contact]");
    var newContact = document.getElementById("new-contact");
    function toggleContact() { newContact.hidden = contact.value !== "new"; }
    contact.addEventListener("change", toggleContact);
    toggleContact();
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      setTimeout(function () { button.disabled = true; }, 0);  // one check-in per tap
    });
    if (!form.elements.lat.value) run();
    else status.textContent = "";
  }

  // ------------------------------------------------------------------------------------ service worker

  function registerWorker() {
    var url = document.body.getAttribute("data-sw");
    if (!url || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register(url, {scope: document.body.getAttribute("data-sw-scope")}).catch(function () {
      /* no offline shell (e.g. plain http on a LAN address): the app works without it */
    });
  }

  function start() {
    initNearby();
    initMap();
    initCheckin();
    registerWorker();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
