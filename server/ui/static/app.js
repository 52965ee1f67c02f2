// vexil admin UI: small progressive enhancements. Every page works without
// this file; it adds line numbers that follow the text, validation as you
// type and the environment picker. It never inserts HTML: only textContent.
(function () {
  'use strict';

  function envPicker() {
    var form = document.querySelector('[data-envpick]');
    if (!form) return;
    var sel = form.querySelector('[data-envselect]');
    form.querySelector('[data-nojs]').hidden = true; // the select navigates by itself
    sel.addEventListener('change', function () {
      var page = form.dataset.active;
      if (['flags', 'rules', 'history'].indexOf(page) < 0) page = 'flags';
      location.href = form.dataset.prefix + '/envs/' + encodeURIComponent(sel.value) + '/' + page;
    });
  }

  function editor() {
    var ta = document.getElementById('rules');
    var gutter = document.getElementById('gutter');
    var list = document.getElementById('errors');
    var state = document.getElementById('checkstate');
    if (!ta || !gutter) return;
    var form = ta.form;
    var csrf = form.querySelector('input[name=_csrf]').value;
    var errors = {}; // line -> message
    var lines = -1;
    var errKey = '';

    function renderGutter() {
      var n = ta.value.split('\n').length;
      if (ta.value.endsWith('\n')) n--;
      n = Math.max(n, 1);
      var key = JSON.stringify(errors);
      if (n === lines && key === errKey) return;
      lines = n;
      errKey = key;
      var frag = document.createDocumentFragment();
      for (var i = 1; i <= n; i++) {
        var s = document.createElement('span');
        s.textContent = String(i);
        if (errors[i]) { s.className = 'err'; s.title = errors[i]; }
        frag.appendChild(s);
      }
      gutter.replaceChildren(frag);
      gutter.scrollTop = ta.scrollTop;
    }

    function gotoLine(n) {
      var pos = 0;
      var parts = ta.value.split('\n');
      for (var i = 0; i < n - 1 && i < parts.length; i++) pos += parts[i].length + 1;
      ta.focus();
      ta.setSelectionRange(pos, pos + (parts[n - 1] || '').length);
      var lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
      ta.scrollTop = Math.max(0, (n - 5) * lh);
    }

    function showErrors(res) {
      errors = {};
      list.replaceChildren();
      (res.errors || []).forEach(function (e) {
        errors[e.line] = (errors[e.line] ? errors[e.line] + '\n' : '') + e.message;
        var li = document.createElement('li');
        var a = document.createElement('a');
        a.href = '#rules';
        a.dataset.goto = e.line;
        a.textContent = 'line ' + e.line + ':' + e.col;
        var code = document.createElement('code');
        code.textContent = e.path;
        li.append(a, ' ', code, ': ' + e.message);
        list.appendChild(li);
      });
      if (res.ok) state.textContent = 'compiles ✓';
      else if (res.error) state.textContent = res.error;
      else state.textContent = res.errors.length + ' error(s)';
      state.className = res.ok ? 'ok' : 'bad';
      renderGutter();
    }

    var timer = null, seq = 0;
    function check() {
      var mine = ++seq;
      state.textContent = 'checking…';
      state.className = 'muted';
      var body = new URLSearchParams();
      body.set('rules', ta.value);
      fetch(ta.dataset.check, {
        method: 'POST', body: body, credentials: 'same-origin',
        headers: { 'X-CSRF-Token': csrf }
      }).then(function (r) {
        if (!r.ok) throw new Error('check failed: ' + r.status);
        return r.json();
      }).then(function (res) {
        if (mine === seq) showErrors(res);
      }).catch(function (e) {
        if (mine === seq) { state.textContent = e.message; state.className = 'bad'; }
      });
    }

    // Errors the server rendered with the page.
    list.querySelectorAll('li[data-line]').forEach(function (li) {
      var n = li.dataset.line;
      errors[n] = (errors[n] ? errors[n] + '\n' : '') + li.textContent;
    });
    renderGutter();
    ta.addEventListener('input', function () {
      renderGutter();
      clearTimeout(timer);
      timer = setTimeout(check, 400);
    });
    ta.addEventListener('scroll', function () { gutter.scrollTop = ta.scrollTop; });
    ta.addEventListener('keydown', function (ev) {
      if (ev.key === 'Tab' && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey) {
        ev.preventDefault();
        ta.setRangeText('  ', ta.selectionStart, ta.selectionEnd, 'end');
        ta.dispatchEvent(new Event('input'));
      }
    });
    // rules#rule-NAME (from the flags page) opens the editor at that rule.
    if (location.hash.indexOf('#rule-') === 0) {
      var name = decodeURIComponent(location.hash.slice(6));
      var lines = ta.value.split('\n');
      for (var i = 0; i < lines.length; i++) {
        var m = /^\s+["']?([^"':]+)["']?:\s*$/.exec(lines[i]);
        if (m && m[1] === name) { gotoLine(i + 1); break; }
      }
    }
    list.addEventListener('click', function (ev) {
      var a = ev.target.closest('[data-goto]');
      if (!a) return;
      ev.preventDefault();
      gotoLine(parseInt(a.dataset.goto, 10));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    envPicker();
    editor();
  });
})();
