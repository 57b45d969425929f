// The console's small enhancements; every page works without them.
// No framework, no build step: this file is served as is by the gateway.
(function () {
  "use strict";

  // `/` focuses the search box (or opens the search page), unless one is typing.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var box = document.querySelector("[data-search-key]");
    event.preventDefault();
    if (box) { box.focus(); box.select(); } else { window.location.href = "/console/search"; }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-focus]");
    if (summary) summary.focus();
    submitOnce();
    residentIdChecks();
    toggles();
    printButtons();
    pollStatus();
    idleWarning();
  });

  // Sections that make sense in some statuses only (hand over once decided...).
  function showForStatus(status) {
    document.querySelectorAll("[data-show-when]").forEach(function (block) {
      block.hidden = block.dataset.showWhen.split(" ").indexOf(status) < 0;
    });
  }

  // Warn before an idle session ends, and let the clerk keep it (and the form) alive.
  function idleWarning() {
    var minutes = +document.body.dataset.idleMinutes;
    if (!minutes) return;
    var warnAfter = Math.max(minutes - 2, minutes / 2) * 60000;
    var endsAt = Date.now() + minutes * 60000;
    var box = document.createElement("div");
    box.className = "idle-warning";
    box.id = "idle-warning";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-live", "assertive");
    box.hidden = true;
    var words = document.createElement("p");
    var keep = document.createElement("button");
    keep.type = "button";
    keep.textContent = "继续使用";
    box.appendChild(words);
    box.appendChild(keep);
    document.body.appendChild(box);
    var timer = null;
    function arm() {
      endsAt = Date.now() + minutes * 60000;
      box.hidden = true;
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(warn, warnAfter);
    }
    function warn() {
      var left = Math.max(0, Math.round((endsAt - Date.now()) / 60000));
      words.textContent = "长时间未操作，约 " + left + " 分钟后将自动退出。已填写的内容仍在本页，点“继续使用”即可保留登录。";
      box.hidden = false;
      keep.focus();
    }
    keep.addEventListener("click", function () {
      fetch("/console/keepalive.json", { method: "GET", credentials: "same-origin" })
        .then(function (response) {
          if (response.ok) { arm(); } else { words.textContent = "登录已过期，请在新标签页重新登录后再提交本页。"; }
        });
    });
    arm();
  }

  // A double click sends the form once; the form's Idempotency-Key covers the rest.
  function submitOnce() {
    document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
      form.addEventListener("submit", function () {
        if (form.dataset.submitting) return;
        form.dataset.submitting = "1";
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          window.setTimeout(function () { button.disabled = true; button.textContent = "正在提交…"; }, 0);
        });
      });
    });
  }

  // GB 11643: the same rules and words as the server, which stays the authority.
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK = "10X98765432";
  function residentIdProblem(value) {
    var number = value.trim().toUpperCase();
    if (!/^[0-9]{17}[0-9X]$/.test(number)) return "居民身份证号码应为18位：前17位数字，最后一位为数字或X";
    var year = +number.slice(6, 10), month = +number.slice(10, 12), day = +number.slice(12, 14);
    var born = new Date(Date.UTC(year, month - 1, day));
    if (born.getUTCFullYear() !== year || born.getUTCMonth() !== month - 1 || born.getUTCDate() !== day) {
      return "居民身份证号码中的出生日期不存在";
    }
    if (year < 1900 || born.getTime() > Date.now()) return "居民身份证号码中的出生日期不合理";
    var total = 0;
    for (var i = 0; i < 17; i++) total += (+number[i]) * WEIGHTS[i];
    if (CHECK[total % 11] !== number[17]) return "居民身份证号码校验位不正确，请核对是否抄错";
    return null;
  }

  function residentIdChecks() {
    document.querySelectorAll("input[data-id-number]").forEach(function (input) {
      var select = document.getElementById(input.dataset.idNumber);
      var note = document.createElement("p");
      note.className = "live-check";
      note.id = input.id + "-live";
      note.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", note);
      function check(final) {
        var value = input.value.trim();
        if (!select || select.value !== "resident_id" || !value || (!final && value.length < 18)) {
          note.textContent = "";
          note.className = "live-check";
          return;
        }
        var problem = residentIdProblem(value);
        note.textContent = problem ? problem : "号码校验通过";
        note.className = "live-check " + (problem ? "bad" : "good");
      }
      input.addEventListener("input", function () { check(false); });
      input.addEventListener("blur", function () { check(true); });
      if (select) select.addEventListener("change", function () { check(true); });
    });
  }

  function toggles() {
    document.querySelectorAll("[data-kind-switch]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        document.querySelectorAll("[data-kind]").forEach(function (block) {
          block.hidden = block.dataset.kind !== radio.value;
        });
      });
    });
    // The promised date matters only for a material marked 容缺.
    document.querySelectorAll("[data-deferral]").forEach(function (box) {
      var date = document.querySelector('[data-deferral-date="' + box.dataset.deferral + '"]');
      if (!date) return;
      var show = function () { date.hidden = !box.checked; };
      box.addEventListener("change", show);
      show();
    });
    document.querySelectorAll("[data-delivery]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        document.querySelectorAll("[data-mail]").forEach(function (block) {
          block.hidden = radio.value !== "mail";
        });
      });
    });
  }

  function printButtons() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  // The case page follows its status without a reload.
  function pollStatus() {
    var head = document.querySelector("[data-poll]");
    if (!head || head.hasAttribute("data-final")) return;
    var url = head.dataset.poll;
    var seen = head.dataset.events;
    var timer = window.setInterval(function () {
      if (document.hidden) return;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status === 401) {
            window.clearInterval(timer);
            document.getElementById("status-tag").textContent = "登录已过期，请刷新页面重新登录";
            return null;
          }
          return response.ok ? response.json() : null;
        })
        .then(function (state) {
          if (!state) return;
          var tag = document.getElementById("status-tag");
          tag.textContent = state.status_zh;
          tag.className = "status status-" + state.status;
          showForStatus(state.status);
          if (state.region_case_no) document.getElementById("region-case-no").textContent = state.region_case_no;
          if (String(state.events) !== seen) {
            seen = String(state.events);
            var list = document.getElementById("timeline");
            list.textContent = "";
            state.timeline.forEach(function (row) {
              var item = document.createElement("li");
              [["when", row.when], ["who", row.who], ["what", row.what]].forEach(function (pair, index) {
                var span = document.createElement("span");
                span.className = pair[0];
                span.textContent = pair[1];
                if (index) item.appendChild(document.createTextNode(" "));
                item.appendChild(span);
              });
              list.appendChild(item);
            });
          }
          if (state.final) window.clearInterval(timer);
        })
        .catch(function () { /* the next tick tries again */ });
    }, 2000);
  }
})();
