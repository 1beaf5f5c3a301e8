// The API reference page (/api/redoc/): starts Redoc on #redoc-container. The nonce of this <script> is the
// response's CSP nonce; Redoc sets it on the <style> elements it creates, which the policy then allows.
"use strict";
(function () {
  const container = document.getElementById("redoc-container");
  const options = JSON.parse(container.dataset.settings);
  Redoc.init(container.dataset.specUrl, { ...options, nonce: document.currentScript.nonce }, container);
})();
