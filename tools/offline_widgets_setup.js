// Loaded between require.js and the widget manager (embed-amd.js) on pages with
// widgets; tools/offline_widgets.py copies it to _static/widgets/setup.js.
(function () {
  // This folder also holds the manager and the fonts it refers to. The manager finds
  // its fonts relative to its own AMD module URL: map the module to this folder.
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  requirejs.config({
    paths: { "@jupyter-widgets/html-manager/dist": here.replace(/\/$/, "") },
  });
  window.__jupyter_widgets_assets_path__ = here;

  // ipywidgets typesets widget labels with MathJax 2's MathJax.Hub.Queue; the book
  // loads MathJax 3, which has no Hub. Give it that call before the manager renders
  // (on "load", after this listener), queued behind MathJax's own typesetting.
  window.addEventListener("load", function () {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise && !mj.Hub) {
      mj.Hub = {
        Queue: function (job) {
          mj.startup.promise = mj.startup.promise.then(function () {
            return mj.typesetPromise([job[2]]);
          });
        },
      };
    }
  });
})();
