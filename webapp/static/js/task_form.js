/*
 * Task and start forms: mounts the form-js viewer (global `FormViewer` from
 * vendor/form-js/form-viewer.umd.js) into #task-form and sends the data to the server.
 *
 * HTML contract (no inline script needed):
 *   <div id="task-form" data-schema-url="…" data-submit-url="…" [data-draft-url="…"]
 *        data-csrf="…" data-lang="de" data-next-url="…" [data-mode="start"] [data-label="…"]></div>
 *   <div id="task-form-status" role="status" aria-live="polite"></div>
 *   <div id="task-form-errors" role="alert"></div>
 *   <button id="task-form-submit" type="button">…</button>
 *   <button id="task-form-draft" type="button">…</button>   (hidden when there is no draft URL)
 *
 * GET schema-url  -> {"schema": <form-js schema>, "data": {…}}
 * POST submit-url -> 200 {"redirect", "message"} | 422 {"message", "field_errors": {key: msg},
 *                    ["anonymitaet": {"funde", "begruendung_schluessel"}]}
 *                    | 403/404/409 {"message"}
 * POST draft-url  -> 200 {"message"?}
 * Both POSTs send {"data": …} as JSON with the header X-CSRFToken. The user's input is
 * never discarded on an error.
 *
 * Scripts, in this order: vendor/form-js/form-viewer.umd.js, js/form_de.js (German for the
 * viewer's own strings, used when data-lang="de"), js/task_form.js.
 *
 * Server field errors are put into the viewer's own error state (Form#_setState({errors}), the same call Form#validate()
 * makes), so they render under the field with aria-invalid and aria-describedby exactly
 * like client-side errors; a list of links above the form repeats them.
 */
(function () {
  'use strict';

  /*
   * The script's own messages come from the page (<script type="application/json"
   * id="task-form-messages">, rendered in the page's language); German is the fallback.
   */
  const FALLBACK = {
    status_403: 'Dafür fehlt Ihnen die Berechtigung.',
    status_404: 'Die Aufgabe oder der Prozess wurde nicht gefunden.',
    status_409: 'Die Aufgabe wurde inzwischen geändert oder bereits erledigt.',
    status_422: 'Bitte prüfen Sie Ihre Eingaben.',
    kept: 'Ihre Eingaben sind noch im Formular.',
    load_failed: 'Das Formular konnte nicht geladen werden. Bitte laden Sie die Seite neu.',
    saved: 'Gespeichert. Sie werden weitergeleitet …',
    draft_saved: 'Entwurf gespeichert ({time})',
    sending: 'Wird gesendet …',
    unexpected: 'Der Server hat unerwartet geantwortet ({status}). Vielleicht ist Ihre Anmeldung ' +
      'abgelaufen: Melden Sie sich in einem neuen Tab an und versuchen Sie es dann erneut.',
    failed: 'Das hat nicht geklappt (Fehler {status}). Bitte versuchen Sie es später erneut.',
    offline: 'Keine Verbindung zum Server. Bitte prüfen Sie Ihre Netzwerkverbindung und versuchen Sie es erneut.',
    form_label_task: 'Aufgabenformular',
    form_label_start: 'Startformular',
    time_locale: 'de-DE'
  };

  function loadMessages() {
    const block = document.getElementById('task-form-messages');
    let given = {};
    try {
      given = block ? JSON.parse(block.textContent) : {};
    } catch (error) {
      window.console.error(error);
    }
    return Object.assign({}, FALLBACK, given);
  }

  const MESSAGES = loadMessages();

  /* A message by key with {name} placeholders filled in. */
  function t(key, values) {
    return String(MESSAGES[key]).replace(/\{(\w+)\}/g, function (match, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function statusMessage(status) {
    return MESSAGES['status_' + status];
  }

  function kept(message) {
    return message + ' ' + t('kept');
  }

  function afterRender() {
    // form-js (preact) re-renders asynchronously after a state change.
    return new Promise(function (resolve) {
      window.requestAnimationFrame(function () { window.setTimeout(resolve, 0); });
    });
  }

  function timeNow() {
    return new Date().toLocaleTimeString(MESSAGES.time_locale, { hour: '2-digit', minute: '2-digit' });
  }

  function TaskForm(container) {
    this.container = container;
    this.mode = container.dataset.mode || 'task';
    this.status = document.getElementById('task-form-status');
    this.errorBox = document.getElementById('task-form-errors');
    this.submitButton = document.getElementById('task-form-submit');
    this.draftButton = document.getElementById('task-form-draft');
    this.busy = false;
    this.dirty = false;
    this.form = null;
  }

  TaskForm.prototype.start = async function () {
    const self = this;
    const dataset = this.container.dataset;
    if (this.draftButton && !dataset.draftUrl) {
      this.draftButton.hidden = true;
    }
    this.setBusy(true);
    this.container.setAttribute('aria-busy', 'true');
    let loadError = null; // the server's message, e.g. for 403/404
    try {
      const response = await fetch(dataset.schemaUrl, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' }
      });
      const payload = await response.json();
      if (!response.ok) {
        loadError = payload.message;
        throw new Error('HTTP ' + response.status);
      }
      if (!window.FormViewer) {
        throw new Error('vendor/form-js/form-viewer.umd.js is not loaded');
      }
      const german = (dataset.lang || 'de') === 'de' && window.HilfenetzFormDe;
      this.form = new window.FormViewer.Form({
        container: this.container,
        // Every keystroke goes into the form's state at once. form-js otherwise waits 300 ms, and a
        // click on "Abschließen" within that time validated the field as empty while it showed text.
        debounce: false,
        additionalModules: german ? [german.module] : [],
        properties: { ariaLabel: dataset.label || t(this.mode === 'start' ? 'form_label_start' : 'form_label_task') }
      });
      await this.form.importSchema(payload.schema, payload.data || {});
      if (german) {
        german.observe(this.container);
      }
    } catch (error) {
      window.console.error(error);
      this.showError(loadError || t('load_failed'));
      return; // buttons stay disabled: there is nothing to submit
    } finally {
      this.container.removeAttribute('aria-busy');
    }
    this.form.on('field.updated', function () { self.dirty = true; });
    window.addEventListener('beforeunload', function (event) {
      if (self.dirty) {
        event.preventDefault();
        event.returnValue = '';
      }
    });
    if (this.submitButton) {
      this.submitButton.addEventListener('click', function () { self.submit(); });
    }
    if (this.draftButton) {
      this.draftButton.addEventListener('click', function () { self.saveDraft(); });
    }
    this.setBusy(false);
  };

  TaskForm.prototype.setBusy = function (busy) {
    // aria-disabled instead of disabled: a disabled button loses keyboard focus.
    this.busy = busy;
    [this.submitButton, this.draftButton].forEach(function (button) {
      if (button) {
        button.setAttribute('aria-disabled', busy ? 'true' : 'false');
      }
    });
  };

  TaskForm.prototype.clearMessages = function () {
    this.errorBox.textContent = '';
    this.status.textContent = '';
  };

  TaskForm.prototype.showError = function (message) {
    const paragraph = document.createElement('p');
    paragraph.textContent = message;
    this.errorBox.textContent = '';
    this.errorBox.appendChild(paragraph);
  };

  TaskForm.prototype.submit = async function () {
    if (this.busy || !this.form) {
      return;
    }
    this.clearMessages();
    await this.commitTypedDates();
    const result = this.form.submit();
    if (Object.keys(result.errors).length) {
      await this.showFieldErrors(t('status_422'));
      return;
    }
    const answer = await this.post(this.container.dataset.submitUrl, this.withOverride(result.data));
    if (!answer) {
      return;
    }
    this.offerOverride(answer);
    if (answer.ok) {
      this.dirty = false;
      this.status.textContent = answer.body.message || t('saved');
      window.location.assign(answer.body.redirect || this.container.dataset.nextUrl || '/');
      return;
    }
    if (answer.status === 422 && answer.body.field_errors) {
      const unmatched = this.setServerErrors(answer.body.field_errors);
      await this.showFieldErrors(answer.body.message || t('status_422'), unmatched);
      return;
    }
    this.showError(kept(answer.message));
  };

  /*
   * Anonymity guard: a 422 with {"anonymitaet": {"begruendung_schluessel": key}} means fields of an
   * anonymous record look like personal data. Show #anonymity-override; a reason typed there is
   * sent under that key with the next submission (the server audits the exception).
   */
  TaskForm.prototype.offerOverride = function (answer) {
    const box = document.getElementById('anonymity-override');
    const details = answer.body && answer.body.anonymitaet;
    if (box && details && details.begruendung_schluessel) {
      this.reasonKey = details.begruendung_schluessel;
      box.hidden = false;
    }
  };

  TaskForm.prototype.withOverride = function (data) {
    const field = document.getElementById('anonymitaet-begruendung');
    const box = document.getElementById('anonymity-override');
    if (!this.reasonKey || !field || !box || box.hidden || !field.value.trim()) {
      return data;
    }
    const copy = Object.assign({}, data);
    copy[this.reasonKey] = field.value.trim();
    return copy;
  };

  TaskForm.prototype.commitTypedDates = async function () {
    // What the user sees is what is sent: under load, a date or time typed into form-js's pickers
    // can stand in the field while the viewer's state missed it (the pickers race on blur).
    // Hand every visible, parseable date to the picker again; it reports it to form-js.
    let handed = false;
    this.container.querySelectorAll('.fjs-form-field-datetime .flatpickr-input').forEach(function (input) {
      const picker = input._flatpickr;
      const typed = input.value.trim();
      if (!picker || !typed) {
        return;
      }
      const parsed = picker.parseDate(typed, picker.config.dateFormat);
      if (parsed) {
        picker.setDate(parsed, true);
        handed = true;
      }
    });
    // The time picker has the same kind of race: its blur handler can read the typed text from
    // before the last render and drop it. Enter makes it read the text again.
    this.container.querySelectorAll('.fjs-timepicker input.fjs-input').forEach(function (input) {
      if (input.value.trim()) {
        input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', code: 'Enter', bubbles: true }));
        handed = true;
      }
    });
    if (handed) {
      await this.settle();
    }
  };

  TaskForm.prototype.settle = async function () {
    // form-js reports a date through a chain of preact effects (picker → field → form state), each
    // after a frame; on a slow or busy PC that can take several frames. Wait until the form's data
    // stays the same over two frames (at most about twenty frames).
    let before = JSON.stringify(this.form._getState().data);
    let stable = 0;
    for (let round = 0; round < 20 && stable < 2; round += 1) {
      await afterRender();
      const now = JSON.stringify(this.form._getState().data);
      stable = now === before ? stable + 1 : 0;
      before = now;
    }
  };

  TaskForm.prototype.saveDraft = async function () {
    if (this.busy || !this.form) {
      return;
    }
    this.clearMessages();
    // Form#_getSubmitData(): the values submit() would send, without running validation.
    const answer = await this.post(this.container.dataset.draftUrl, this.withOverride(this.form._getSubmitData()));
    if (!answer) {
      return;
    }
    this.offerOverride(answer);
    if (answer.ok) {
      this.dirty = false;
      this.status.textContent = t('draft_saved', { time: timeNow() });
    } else if (answer.status === 422 && answer.body.field_errors) {
      const unmatched = this.setServerErrors(answer.body.field_errors);
      await this.showFieldErrors(answer.body.message || t('status_422'), unmatched);
    } else {
      this.showError(kept(answer.message));
    }
  };

  /*
   * POST {"data": data} as JSON. Resolves to {ok, status, body, message}, or to null after
   * showing a message when the request failed before the server answered with JSON.
   */
  TaskForm.prototype.post = async function (url, data) {
    this.setBusy(true);
    this.status.textContent = t('sending');
    try {
      const response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'X-CSRFToken': this.container.dataset.csrf || ''
        },
        body: JSON.stringify({ data: data })
      });
      this.status.textContent = '';
      let body = null;
      if ((response.headers.get('Content-Type') || '').indexOf('application/json') !== -1) {
        body = await response.json();
      }
      if (!body) {
        this.showError(kept(t('unexpected', { status: response.status })));
        return null;
      }
      return {
        ok: response.ok,
        status: response.status,
        body: body,
        message: body.message || statusMessage(response.status) || t('failed', { status: response.status })
      };
    } catch (error) {
      this.status.textContent = '';
      this.showError(kept(t('offline')));
      return null;
    } finally {
      this.setBusy(false);
    }
  };

  /*
   * Put {key or dotted path: message(s)} from the server into the viewer's error state.
   * Returns the messages for keys that match no visible field of the form.
   */
  TaskForm.prototype.setServerErrors = function (fieldErrors) {
    const instances = this.form.get('formFieldInstanceRegistry').getAllKeyed();
    const errors = {};
    const unmatched = [];
    Object.keys(fieldErrors).forEach(function (key) {
      const messages = [].concat(fieldErrors[key]);
      const matching = instances.filter(function (instance) {
        return !instance.hidden && instance.valuePath.join('.') === key;
      });
      if (!matching.length) {
        Array.prototype.push.apply(unmatched, messages);
      }
      matching.forEach(function (instance) {
        // same path Form#validate() uses: [field id, repeat index, …]
        const indexes = instance.indexes || {};
        const path = [instance.id].concat(Object.keys(indexes).map(function (name) { return indexes[name]; }));
        let node = errors;
        path.slice(0, -1).forEach(function (step) {
          node[step] = node[step] || {};
          node = node[step];
        });
        node[path[path.length - 1]] = messages;
      });
    });
    this.form._setState({ errors: errors });
    return unmatched;
  };

  /*
   * After errors are in the viewer's state: list every error shown in the form (in page
   * order) as a link in #task-form-errors, then `extraMessages` (server errors for keys the
   * form does not show), and move focus to the first invalid field.
   */
  TaskForm.prototype.showFieldErrors = async function (summary, extraMessages) {
    await afterRender();
    const self = this;
    const box = this.errorBox;
    const heading = document.createElement('p');
    const list = document.createElement('ul');
    let firstField = null;
    this.container.querySelectorAll('.fjs-form-field-error').forEach(function (error) {
      const field = self.fieldFor(error);
      const label = self.labelFor(error);
      error.querySelectorAll('li').forEach(function (item) {
        const entry = document.createElement('li');
        const text = (label ? label + ': ' : '') + item.textContent;
        if (field) {
          const link = document.createElement('a');
          link.href = '#' + field.id;
          link.textContent = text;
          link.addEventListener('click', function (event) {
            event.preventDefault();
            field.focus();
          });
          entry.appendChild(link);
        } else {
          entry.textContent = text;
        }
        list.appendChild(entry);
      });
      firstField = firstField || field;
    });
    (extraMessages || []).forEach(function (message) {
      const entry = document.createElement('li');
      entry.textContent = message;
      list.appendChild(entry);
    });
    heading.textContent = summary;
    box.textContent = '';
    box.appendChild(heading);
    box.appendChild(list);
    if (firstField) {
      firstField.focus();
    }
  };

  /* The focusable control an error message belongs to (the error div is `<domId>-error-message`). */
  TaskForm.prototype.fieldFor = function (errorElement) {
    const domId = errorElement.id.replace(/-error-message$/, '');
    const control = domId && document.getElementById(domId);
    if (control && typeof control.focus === 'function' && control.matches('input, select, textarea, button, [tabindex]')) {
      return control;
    }
    const wrapper = errorElement.closest('.fjs-form-field');
    return wrapper && wrapper.querySelector('input:not([type=hidden]), select, textarea, button, [tabindex]');
  };

  TaskForm.prototype.labelFor = function (errorElement) {
    const wrapper = errorElement.closest('.fjs-form-field');
    const label = wrapper && wrapper.querySelector('.fjs-form-field-label, legend');
    if (!label) {
      return '';
    }
    const copy = label.cloneNode(true); // without the aria-hidden "*" of required fields
    copy.querySelectorAll('[aria-hidden="true"]').forEach(function (node) { node.remove(); });
    return copy.textContent.trim();
  };

  document.addEventListener('DOMContentLoaded', function () {
    const container = document.getElementById('task-form');
    if (container) {
      new TaskForm(container).start();
    }
  });
}());
