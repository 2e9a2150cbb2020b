// The console's own script (CSP allows only same-origin files, no inline script).
//
// htmx swaps only 2xx answers by default, so a refused fragment request (a claim taken by someone
// else: 409; a session expired; a server fault) used to leave the page unchanged with nothing said.
// Here: a refusal the console answered as the fragment itself (the queue's table with its notice)
// is swapped like a success; anything else (a whole error page, a JSON problem, no answer at all)
// is said in the page's alert region, in words, with the status.
(function () {
  "use strict";

  function say(text) {
    var region = document.getElementById("flash");
    if (!region) return;
    region.textContent = text;
    region.hidden = false;
  }

  function clear() {
    var region = document.getElementById("flash");
    if (region) {
      region.textContent = "";
      region.hidden = true;
    }
  }

  function wordsOf(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var text = xhr.responseText || "";
    if (type.indexOf("text/html") === 0) {
      var doc = new DOMParser().parseFromString(text, "text/html");
      var main = doc.querySelector("main");
      if (main) {
        var parts = [];
        main.querySelectorAll("h1, p").forEach(function (node) {
          if (!node.querySelector("a")) parts.push(node.textContent.trim());
        });
        if (parts.length) return parts.join("：");
      }
    }
    if (type.indexOf("json") !== -1) {
      try {
        var problem = JSON.parse(text);
        return "操作未完成：" + (problem.detail || problem.title || "");
      } catch (ignored) {
        /* not JSON after all: the status below */
      }
    }
    return "操作未完成（服务器返回 " + xhr.status + "）。";
  }

  document.addEventListener("htmx:beforeRequest", clear);

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400) return;
    var type = xhr.getResponseHeader("Content-Type") || "";
    var fragment = type.indexOf("text/html") === 0 && !/<html[\s>]/i.test(xhr.responseText || "");
    if (fragment && xhr.getResponseHeader("X-Console-Fragment") === "true") {
      event.detail.shouldSwap = true; // the console's own answer: the fragment, saying why
      event.detail.isError = false;
    } else {
      event.detail.shouldSwap = false;
      say(wordsOf(xhr));
    }
  });

  document.addEventListener("htmx:sendError", function () {
    say("无法连接服务器，操作未完成，请稍后重试。");
  });
  document.addEventListener("htmx:timeout", function () {
    say("服务器未及时答复，操作结果未知，请刷新页面查看。");
  });
})();
