/*
 * Small enhancements for every page. Every page works without them.
 *
 *   <button data-confirm="Wirklich löschen?">  asks before the click goes on
 *   <form data-confirm="…">                     asks before the form is sent
 *   <select id="…" data-autosubmit>              sends its form on change. Keep the form's normal
 *                                                submit button (it is the only way without
 *                                                JavaScript) and say in the label or a hint that the
 *                                                list updates at once (WCAG 3.2.2). After the reload,
 *                                                focus returns to the same select (needs an id).
 */
(function () {
  'use strict';

  const REFOCUS_KEY = 'hilfenetz.autosubmit-focus';

  /* Store an id for the next page, or (with null) take the stored one. Storage may be blocked. */
  function remember(id) {
    try {
      if (id) {
        window.sessionStorage.setItem(REFOCUS_KEY, id);
        return id;
      }
      const stored = window.sessionStorage.getItem(REFOCUS_KEY);
      window.sessionStorage.removeItem(REFOCUS_KEY);
      return stored;
    } catch (error) {
      return null;
    }
  }

  document.addEventListener('click', function (event) {
    const trigger = event.target.closest('[data-confirm]');
    if (trigger && trigger.tagName !== 'FORM' && !window.confirm(trigger.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  });

  document.addEventListener('submit', function (event) {
    const form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  document.addEventListener('change', function (event) {
    const select = event.target;
    if (!select.matches('select[data-autosubmit]') || !select.form) {
      return;
    }
    if (select.id) {
      remember(select.id);
    }
    if (typeof select.form.requestSubmit === 'function') {
      select.form.requestSubmit();
    } else {
      select.form.submit();
    }
  });

  document.addEventListener('DOMContentLoaded', function () {
    const id = remember(null);
    if (id) {
      const select = document.getElementById(id);
      if (select && select.matches('select[data-autosubmit]')) {
        select.focus();
      }
    }
  });
}());
