// Review queue keyboard: j/k move, x selects, m/n/c decide (the selection when there is one, else the
// highlighted item). Plain buttons and forms underneath: without this script every decision still works.
(function () {
  "use strict";
  const items = Array.from(document.querySelectorAll(".review-item[data-id]"));
  const bulk = document.getElementById("bulk");
  const counter = document.getElementById("selected-count");
  if (!items.length) return;
  let index = Math.max(0, items.findIndex((el) => el.classList.contains("current")));
  const keys = { m: "merge", n: "not_duplicate", c: "create" };

  function setAccessKeys(item, on) {
    item.querySelectorAll("button[data-decision]").forEach((button) => {
      const key = Object.keys(keys).find((k) => keys[k] === button.dataset.decision);
      if (on) button.setAttribute("accesskey", key);
      else button.removeAttribute("accesskey");
    });
  }

  function show(next) {
    next = Math.min(items.length - 1, Math.max(0, next));
    items[index].classList.remove("current");
    setAccessKeys(items[index], false);
    index = next;
    const item = items[index];
    item.classList.add("current");
    setAccessKeys(item, true);
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
    history.replaceState(null, "", "?" + new URLSearchParams({
      status: new URLSearchParams(location.search).get("status") || "open", at: item.dataset.id,
    }));
  }

  function selected() {
    return items.map((el) => el.querySelector("input.pick")).filter((box) => box && box.checked);
  }

  function refreshCount() {
    if (counter) counter.textContent = String(selected().length);
  }

  function decide(decision) {
    if (selected().length && bulk) {
      bulk.querySelector(`button[data-bulk="${decision}"]`).click();
      return;
    }
    const button = items[index].querySelector(`button[data-decision="${decision}"]`);
    if (button) button.click();
  }

  items.forEach((item, i) => {
    item.querySelector(".review-head").addEventListener("click", (event) => {
      if (event.target.closest("input, a")) return;
      show(i);
    });
    const box = item.querySelector("input.pick");
    if (box) box.addEventListener("change", refreshCount);
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target.closest && target.closest("textarea, select, input:not([type=checkbox])")) return;
    const key = event.key.toLowerCase();
    if (key === "j") show(index + 1);
    else if (key === "k") show(index - 1);
    else if (key === "x") {
      const box = items[index].querySelector("input.pick");
      if (box) { box.checked = !box.checked; refreshCount(); }
    } else if (keys[key]) decide(keys[key]);
    else return;
    event.preventDefault();
  });
  refreshCount();
  items[index].focus({ preventScroll: true });
})();
