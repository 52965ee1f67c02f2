// vexil admin UI: small progressive enhancements. Every page works without
// this file; it adds line numbers that follow the text, validation as you
// type, indentation keys and the environment picker's shortcuts. It never
// inserts HTML: only textContent.
(function () {
  'use strict';

  // The environment picker switches on confirm (Go, or Enter on the select),
  // never on an arrow key that merely moves through the options. A pick from
  // the open list with the mouse is a confirm.
  function envPicker() {
    var form = document.querySelector('[data-envpick]');
    if (!form) return;
    var sel = form.querySelector('[data-envselect]');
    var byPointer = false;
    sel.addEventListener('pointerdown', function () { byPointer = true; });
    sel.addEventListener('keydown', function (ev) {
      byPointer = false;
      if (ev.key === 'Enter') { ev.preventDefault(); form.requestSubmit(); }
    });
    sel.addEventListener('change', function () {
      if (byPointer) form.requestSubmit();
    });
  }

  // Enter in a field of the target form evaluates: a select does not submit
  // by itself, and an input's implicit submission is only as safe as the
  // form's first button. Enter in the save message moves to Save, which then
  // takes its own Enter: no key saves from inside a field.
  function draftForm() {
    var form = document.getElementById('draft');
    var evaluate = document.getElementById('evaluate');
    if (!form || !evaluate) return;
    var toSave = false;
    function onEnter(ev) {
      if (ev.key !== 'Enter' || ev.isComposing || ev.shiftKey || ev.altKey || ev.ctrlKey || ev.metaKey) return;
      var el = ev.target;
      var action;
      if (el.type === 'checkbox') action = 'none'; // implicit submission; Space toggles it
      else if (el.name === 'message') action = 'save';
      else if (el.closest('.target-col') && (el.tagName === 'INPUT' || el.tagName === 'SELECT')) action = 'evaluate';
      else if (el.closest('.builder') && el.tagName === 'INPUT') action = 'preview';
      else return;
      // The keypress that may follow a keydown would submit the form too.
      ev.preventDefault();
      if (ev.type === 'keydown' && action === 'evaluate') form.requestSubmit(evaluate);
      if (ev.type === 'keydown' && action === 'preview') form.requestSubmit(document.getElementById('b_previewbtn'));
      // The focus moves once the key is up, so no part of this press reaches Save.
      if (ev.type === 'keydown') toSave = action === 'save';
      if (ev.type === 'keyup' && toSave) {
        toSave = false;
        var save = document.getElementById('save');
        if (save) save.focus();
      }
    }
    form.addEventListener('keydown', onEnter);
    form.addEventListener('keypress', onEnter);
    form.addEventListener('keyup', onEnter);
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
    var describedBy = 'editor-keys';

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
      markInvalid(!res.ok);
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

    // aria-invalid follows the live check, and the error list describes the field.
    function markInvalid(bad) {
      if (bad) {
        ta.setAttribute('aria-invalid', 'true');
        ta.setAttribute('aria-describedby', describedBy + ' errors');
      } else {
        ta.removeAttribute('aria-invalid');
        ta.setAttribute('aria-describedby', describedBy);
      }
    }

    // Replace start..end with text so that Ctrl+Z undoes it: insertText goes
    // through the browser's editing (and undo stack); setRangeText does not.
    function replaceRange(start, end, text, selStart, selEnd) {
      ta.setSelectionRange(start, end);
      var done = false;
      try {
        done = text === '' ? document.execCommand('delete', false) : document.execCommand('insertText', false, text);
      } catch (e) { done = false; }
      if (!done) {
        ta.setRangeText(text, start, end, 'end');
        ta.dispatchEvent(new Event('input'));
      }
      ta.setSelectionRange(selStart, selEnd);
    }

    // shiftLines indents (by two spaces) or outdents every line the
    // selection touches, keeping the selection on the same text.
    function shiftLines(outdent) {
      var v = ta.value, s = ta.selectionStart, e = ta.selectionEnd;
      var from = v.lastIndexOf('\n', s - 1) + 1;
      var last = e > s && v[e - 1] === '\n' ? e - 1 : e; // a selection ending at a line start spares that line
      var to = v.indexOf('\n', last);
      if (to < 0) to = v.length;
      var first = 0, total = 0;
      var out = v.slice(from, to).split('\n').map(function (line, i) {
        var d;
        if (outdent) d = -Math.min(2, /^ */.exec(line)[0].length);
        else d = line === '' && (s !== e) ? 0 : 2;
        if (i === 0) first = d;
        total += d;
        return d > 0 ? '  ' + line : line.slice(-d);
      }).join('\n');
      if (total === 0) return;
      replaceRange(from, to, out, Math.max(from, s + first), Math.max(from, e + total));
    }

    // Tab moves focus, as everywhere else. Ctrl+] and Ctrl+[ indent and
    // outdent; "Tab indents" (remembered in this browser) makes Tab indent
    // instead, and then Escape lets the next Tab leave.
    var keys = document.getElementById('editor-keys');
    var tabBox = document.getElementById('tab-indents');
    var tabHelp = document.getElementById('tab-mode-help');
    var tabIndents = false, escaped = false;
    function setTabMode(on) {
      tabIndents = on;
      if (tabBox) tabBox.checked = on;
      if (tabHelp) tabHelp.hidden = !on;
      try { localStorage.setItem('vexil.tabIndents', on ? '1' : ''); } catch (e) { /* storage off */ }
    }
    if (keys) keys.hidden = false;
    try { setTabMode(localStorage.getItem('vexil.tabIndents') === '1'); } catch (e) { setTabMode(false); }
    if (tabBox) tabBox.addEventListener('change', function () { setTabMode(tabBox.checked); });
    ta.addEventListener('keydown', function (ev) {
      var wasEscaped = escaped;
      escaped = ev.key === 'Escape';
      if ((ev.ctrlKey || ev.metaKey) && (ev.key === ']' || ev.key === '[')) {
        ev.preventDefault();
        shiftLines(ev.key === '[');
        return;
      }
      if (ev.key !== 'Tab' || !tabIndents || wasEscaped || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      ev.preventDefault();
      var s = ta.selectionStart, e = ta.selectionEnd;
      if (!ev.shiftKey && ta.value.slice(s, e).indexOf('\n') < 0) replaceRange(s, e, '  ', s + 2, s + 2);
      else shiftLines(ev.shiftKey);
    });

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
    // rules#rule-NAME (from the flags page) opens the editor at that rule.
    if (location.hash.indexOf('#rule-') === 0) {
      var name = decodeURIComponent(location.hash.slice(6));
      var text = ta.value.split('\n');
      for (var i = 0; i < text.length; i++) {
        var m = /^\s+["']?([^"':]+)["']?:\s*$/.exec(text[i]);
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

  // Escape closes the open menu (narrow screens) and gives its button the
  // focus back, as a menu button does.
  function menu() {
    var m = document.querySelector('details.menu');
    if (!m) return;
    document.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Escape' || !m.open) return;
      m.open = false;
      m.querySelector('summary').focus();
    });
  }

  // The rule builder: the comparisons offered follow the attribute's type,
  // an attribute with values: shows them as checkboxes, and the filter is
  // previewed (generated and compiled by the server) as the fields change.
  // Without this the same form works by its Preview button.
  function builder() {
    var box = document.getElementById('builder');
    if (!box) return;
    var form = box.closest('form');
    var attr = document.getElementById('b_attr');
    var op = document.getElementById('b_op');
    var vals = document.getElementById('b_values');
    var preview = document.getElementById('b_preview');
    var csrf = form.querySelector('input[name=_csrf]').value;
    function syncAttr() {
      var opt = attr.options[attr.selectedIndex];
      var type = (opt && opt.dataset.type) || '';
      var choices = null;
      box.querySelectorAll('.b-choices').forEach(function (fs) {
        var on = fs.dataset.attr === attr.value;
        fs.hidden = !on;
        fs.disabled = !on;
        if (on) choices = fs;
      });
      var first = null;
      Array.prototype.forEach.call(op.options, function (o) {
        var ok = type !== '' && o.dataset.types.split(' ').indexOf(type) >= 0;
        o.disabled = !ok;
        o.hidden = !ok;
        if (ok && !first) first = o;
      });
      op.disabled = type === '';
      if (first && op.options[op.selectedIndex].disabled) first.selected = true;
      vals.hidden = vals.disabled = type === '' || type === 'bool' || !!choices;
    }
    function el(tag, cls, text) {
      var e = document.createElement(tag);
      if (cls) e.className = cls;
      if (text) e.textContent = text;
      return e;
    }
    function render(res) {
      preview.textContent = '';
      if (res.filter || res.ok) {
        var p = el('p', '', 'Filter: ');
        var c = el('code', '', res.filter || '(none: everyone)');
        c.id = 'b_filter';
        p.appendChild(c);
        preview.appendChild(p);
        var w = el('p', '', res.words);
        w.id = 'b_words';
        preview.appendChild(w);
      }
      if (res.error) {
        var e = el('p', 'error', res.error);
        e.id = 'b_err';
        preview.appendChild(e);
      }
      if (res.errors && res.errors.length) {
        var ul = el('ul', 'errors');
        res.errors.forEach(function (x) {
          ul.appendChild(el('li', '', 'line ' + x.line + ':' + x.col + ' ' + x.path + ': ' + x.message));
        });
        preview.appendChild(ul);
      }
    }
    var timer = null, seq = 0;
    function update() {
      var mine = ++seq;
      var body = new URLSearchParams(new FormData(form));
      fetch(box.dataset.build, {
        method: 'POST', body: body, credentials: 'same-origin',
        headers: { 'X-CSRF-Token': csrf }
      }).then(function (r) {
        if (!r.ok) throw new Error('preview failed: ' + r.status);
        return r.json();
      }).then(function (res) {
        if (mine === seq) render(res);
      }).catch(function (e) {
        if (mine === seq) render({ error: e.message });
      });
    }
    function later() {
      clearTimeout(timer);
      timer = setTimeout(update, 300);
    }
    attr.addEventListener('change', syncAttr);
    box.addEventListener('change', later);
    box.addEventListener('input', later);
    syncAttr();
  }

  document.addEventListener('DOMContentLoaded', function () {
    menu();
    envPicker();
    draftForm();
    editor();
    builder();
  });
})();
