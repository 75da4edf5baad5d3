/*
 * The in-browser editors of a model draft (templates/modellierung/editor.html):
 *
 *   <div id="modeler-root" data-kind="bpmn|dmn|form" data-content-url="…/inhalt"
 *        data-save-url="…/speichern" data-check-url="…/pruefen" data-lang="de"
 *        data-revision="3" data-editable="true"></div>
 *   <ul id="modeler-problems" aria-live="polite"></ul>
 *   <button id="modeler-save">  <button id="modeler-check">
 *
 * Opens the draft in bpmn-js (with the properties panel and its Camunda Platform provider),
 * the form-js editor or dmn-js; saves and checks by POSTing {"content": "…"} (a save also
 * sends the revision it started from, so the server refuses to overwrite a newer one) with the
 * X-CSRFToken header; lists the server's problems as buttons that select, mark and scroll to
 * the element. Every word shown comes from the page's JSON block #modeler-config (German or
 * English), the library labels from js/modeler_de.js when data-lang="de".
 * The editor object is exposed as window.hilfenetzModeler for browser tests.
 */
(function () {
  'use strict';

  const PROBLEM_MARKER = 'hn-problem';

  /* The page's JSON block: {"messages": {key: text}, "assets": {kind: {styles, scripts}},
   * "camundaModdle": url}. Data, not script, so the CSP has nothing to say about it. */
  function readConfig() {
    const block = document.getElementById('modeler-config');
    try {
      return block ? JSON.parse(block.textContent) : {};
    } catch (error) {
      return {};
    }
  }

  function fill(template, values) {
    return String(template || '').replace(/\{(\w+)\}/g, function (match, key) {
      return values && values[key] !== undefined ? String(values[key]) : match;
    });
  }

  /* A didi module that replaces the libraries' `translate` service with a dictionary lookup. */
  function translateModule(dictionary) {
    function translate(template, replacements) {
      return fill(dictionary[template] || template, replacements || {});
    }
    return { translate: ['value', translate] };
  }

  function element(tag, className) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    return node;
  }

  /* ---------- the three editors: same small interface ---------- */

  /* bpmn-js Modeler with the properties panel (Camunda Platform provider). */
  function BpmnEditor(root, options) {
    const layout = element('div', 'modeler-layout');
    this.canvasNode = element('div', 'modeler-canvas');
    const panel = element('div', 'modeler-panel');
    panel.setAttribute('role', 'region');
    panel.setAttribute('aria-label', options.messages.panelLabel || 'Eigenschaften');
    layout.append(this.canvasNode, panel);
    root.appendChild(layout);
    const props = window.BpmnJSPropertiesPanel;
    const modules = [
      props.BpmnPropertiesPanelModule,
      props.BpmnPropertiesProviderModule,
      props.CamundaPlatformPropertiesProviderModule
    ];
    if (options.dictionary) {
      modules.push(translateModule(options.dictionary.bpmn));
    }
    this.modeler = new window.BpmnJS({
      container: this.canvasNode,
      propertiesPanel: { parent: panel },
      additionalModules: modules,
      moddleExtensions: { camunda: options.camunda }
    });
  }
  BpmnEditor.prototype.open = async function (text) {
    const result = await this.modeler.importXML(text);
    this.modeler.get('canvas').zoom('fit-viewport');
    return result.warnings || [];
  };
  BpmnEditor.prototype.content = async function () {
    return (await this.modeler.saveXML({ format: true })).xml;
  };
  BpmnEditor.prototype.onChange = function (callback) {
    this.modeler.on('commandStack.changed', callback);
  };
  BpmnEditor.prototype.clearMarks = function () {
    const canvas = this.modeler.get('canvas');
    this.modeler.get('elementRegistry').forEach(function (shape) {
      canvas.removeMarker(shape, PROBLEM_MARKER);
    });
  };
  BpmnEditor.prototype.has = function (id) {
    return Boolean(this.modeler.get('elementRegistry').get(id));
  };
  BpmnEditor.prototype.show = function (id) {
    const shape = this.modeler.get('elementRegistry').get(id);
    if (!shape) {
      return false;
    }
    this.clearMarks();
    const canvas = this.modeler.get('canvas');
    canvas.addMarker(shape, PROBLEM_MARKER);
    if (!shape.waypoints && shape.parent) {
      canvas.scrollToElement(shape);
    }
    this.modeler.get('selection').select(shape);
    this.canvasNode.scrollIntoView({ block: 'nearest' });
    return true;
  };

  /* form-js has no translate service: swap the texts of its palette and properties panel,
   * after every re-render. Only whole texts from the dictionary; nothing the user typed
   * (inputs, contenteditable, the selected field's label in the panel header). */
  const FORM_CHROME = '.fjs-palette-container, .fjs-properties-container, .fjs-empty-editor';
  const USER_TEXT = '[contenteditable], input, textarea, .bio-properties-panel-header-label';
  const CREATE_TITLE = /^Create an? (.+) element$/;

  function translateChrome(zone, dictionary) {
    const walker = document.createTreeWalker(zone, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.data.trim();
      const german = dictionary[text];
      if (german && german !== text && !node.parentElement.closest(USER_TEXT)) {
        node.data = node.data.replace(text, german);
      }
    }
    zone.querySelectorAll('[aria-label], [placeholder], [title]').forEach(function (node) {
      ['aria-label', 'placeholder', 'title'].forEach(function (name) {
        const value = node.getAttribute(name);
        const created = value && CREATE_TITLE.exec(value);
        const german = created ? 'Baustein „' + (dictionary[created[1]] || created[1]) + '“ anlegen'
          : dictionary[value];
        if (german && german !== value) {
          node.setAttribute(name, german);
        }
      });
    });
  }

  function translateFormEditor(container, dictionary) {
    function run() {
      container.querySelectorAll(FORM_CHROME).forEach(function (zone) {
        translateChrome(zone, dictionary);
      });
    }
    new MutationObserver(run).observe(container, { childList: true, subtree: true, characterData: true });
    run();
  }

  /* form-js editor (its own properties panel comes with it). */
  function FormEditor(root, options) {
    this.node = element('div', 'modeler-form');
    root.appendChild(this.node);
    this.editor = new window.FormEditor.FormEditor({ container: this.node });
    if (options.dictionary) {
      translateFormEditor(this.node, options.dictionary.form);
    }
  }
  FormEditor.prototype.open = async function (text) {
    const result = await this.editor.importSchema(JSON.parse(text));
    return result.warnings || [];
  };
  FormEditor.prototype.content = async function () {
    return JSON.stringify(this.editor.saveSchema(), null, 2) + '\n';
  };
  FormEditor.prototype.onChange = function (callback) {
    this.editor.on('changed', callback);
  };
  FormEditor.prototype.field = function (id) {
    const registry = this.editor.get('formFieldRegistry');
    return registry.get(id) || registry.getAll().find(function (field) { return field.key === id; });
  };
  FormEditor.prototype.clearMarks = function () {
    this.node.querySelectorAll('.' + PROBLEM_MARKER).forEach(function (node) {
      node.classList.remove(PROBLEM_MARKER);
    });
  };
  FormEditor.prototype.has = function (id) {
    return Boolean(this.field(id));
  };
  FormEditor.prototype.show = function (id) {
    const field = this.field(id);
    if (!field) {
      return false;
    }
    this.clearMarks();
    this.editor.get('selection').set(field);
    const node = this.node.querySelector('[data-id="' + CSS.escape(field.id) + '"]');
    if (node) {
      node.classList.add(PROBLEM_MARKER);
      node.scrollIntoView({ block: 'center' });
    }
    return true;
  };

  /* dmn-js: the decision requirements diagram and each decision table as views. */
  function DmnEditor(root, options) {
    this.node = element('div', 'modeler-dmn');
    root.appendChild(this.node);
    const extra = options.dictionary ? [translateModule(options.dictionary.dmn)] : [];
    this.modeler = new window.DmnJS({
      container: this.node,
      drd: { additionalModules: extra },
      decisionTable: { additionalModules: extra },
      literalExpression: { additionalModules: extra }
    });
    this.marked = null;
  }
  /* A file with one decision table opens on the table (what coordinators edit); the
   * diagram of decisions stays one click away ("View DRD"). */
  DmnEditor.prototype.open = async function (text) {
    const result = await this.modeler.importXML(text);
    const tables = this.modeler.getViews().filter(function (view) { return view.type === 'decisionTable'; });
    if (tables.length === 1 && this.modeler.getActiveView().type !== 'decisionTable') {
      await this.modeler.open(tables[0]);
    }
    return result.warnings || [];
  };
  DmnEditor.prototype.content = async function () {
    return (await this.modeler.saveXML({ format: true })).xml;
  };
  DmnEditor.prototype.onChange = function (callback) {
    /* Each view has its own command stack; listen on the one that is open. */
    const modeler = this.modeler;
    function attach() {
      const viewer = modeler.getActiveViewer();
      if (viewer && !viewer.__hilfenetzListening) {
        viewer.__hilfenetzListening = true;
        viewer.get('eventBus').on('elements.changed', callback);
      }
    }
    modeler.on('views.changed', attach);
    attach();
  };
  /* The view holding the element: a decision by id, or the decision whose table has that rule,
   * input or output. */
  DmnEditor.prototype.viewFor = function (id) {
    return this.modeler.getViews().find(function (view) {
      const bo = view.element;
      if (bo.id === id) {
        return true;
      }
      const logic = bo.decisionLogic;
      const parts = logic ? [].concat(logic.rule || [], logic.input || [], logic.output || []) : [];
      return view.type === 'decisionTable' && parts.some(function (part) { return part.id === id; });
    });
  };
  DmnEditor.prototype.clearMarks = function () {
    this.node.querySelectorAll('.' + PROBLEM_MARKER).forEach(function (node) {
      node.classList.remove(PROBLEM_MARKER);
    });
  };
  DmnEditor.prototype.has = function (id) {
    return Boolean(this.viewFor(id));
  };
  DmnEditor.prototype.show = async function (id) {
    const view = this.viewFor(id);
    if (!view) {
      return false;
    }
    if (this.modeler.getActiveView() !== view) {
      await this.modeler.open(view);
    }
    this.clearMarks();
    const selector = ['[data-row-id="', '[data-col-id="', '[data-element-id="']
      .map(function (start) { return start + CSS.escape(id) + '"]'; }).join(',');
    const cells = this.node.querySelectorAll(selector);
    cells.forEach(function (cell) { cell.classList.add(PROBLEM_MARKER); });
    (cells[0] || this.node).scrollIntoView({ block: 'center' });
    return true;
  };

  const EDITORS = { bpmn: BpmnEditor, form: FormEditor, dmn: DmnEditor };

  /* Only the library of this kind is loaded (the three together are about 7 MB): the page
   * lists each kind's stylesheets and scripts, all served from 'self', so the CSP allows them. */
  function loadStyle(url) {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = url;
    document.head.appendChild(link);
  }

  function loadScript(url) {
    return new Promise(function (resolve, reject) {
      const script = document.createElement('script');
      script.src = url;
      script.onload = resolve;
      script.onerror = function () { reject(new Error(url)); };
      document.head.appendChild(script);
    });
  }

  async function loadAssets(assets) {
    (assets.styles || []).forEach(loadStyle);
    for (const url of assets.scripts || []) {
      await loadScript(url);
    }
  }

  /* ---------- the page around the editor ---------- */

  function ModelerPage(root) {
    this.root = root;
    this.data = root.dataset;
    this.config = readConfig();
    this.messages = this.config.messages || {};
    this.problems = document.getElementById('modeler-problems');
    this.saveButton = document.getElementById('modeler-save');
    this.checkButton = document.getElementById('modeler-check');
    this.status = element('p', 'modeler-status');
    this.status.id = 'modeler-status';
    this.status.setAttribute('role', 'status');
    (this.problems || root).insertAdjacentElement('beforebegin', this.status);
    this.dirty = false;
    this.busy = false;
    this.editor = null;
  }

  ModelerPage.prototype.say = function (key, values, isError) {
    this.status.textContent = fill(this.messages[key] || key, values);
    this.status.classList.toggle('modeler-status--error', Boolean(isError));
  };

  ModelerPage.prototype.start = async function () {
    const Editor = EDITORS[this.data.kind];
    if (!Editor) {
      this.say('unknownKind', { kind: this.data.kind }, true);
      return;
    }
    this.root.setAttribute('aria-busy', 'true');
    try {
      await loadAssets((this.config.assets || {})[this.data.kind] || {});
      const options = {
        messages: this.messages,
        dictionary: (this.data.lang || 'de') === 'de' ? window.HilfenetzModelerDe : null,
        camunda: this.data.kind === 'bpmn' ? await this.fetchJson(this.config.camundaModdle) : null
      };
      this.editor = new Editor(this.root, options);
      window.hilfenetzModeler = this.editor;
      const text = await this.fetchText(this.data.contentUrl);
      const warnings = await this.editor.open(text);
      this.say(warnings.length ? 'openedWithWarnings' : 'opened', { count: warnings.length });
    } catch (error) {
      this.say('openFailed', { reason: error && error.message ? error.message : String(error) }, true);
      return;
    } finally {
      this.root.removeAttribute('aria-busy');
    }
    this.editor.onChange(this.markDirty.bind(this));
    this.linkServerProblems();
    this.bind();
  };

  /* Problems the server rendered into the list (after a refused submission) become buttons too. */
  ModelerPage.prototype.linkServerProblems = function () {
    if (!this.problems) {
      return;
    }
    const page = this;
    this.problems.querySelectorAll('li[data-element-id]').forEach(function (item) {
      const id = item.dataset.elementId;
      if (id && page.editor.has(id)) {
        const button = page.problemButton(item.textContent.trim(), id);
        item.textContent = '';
        item.appendChild(button);
      }
    });
  };

  /* Selecting on the canvas is silent for screen readers: the status says what happened. */
  ModelerPage.prototype.problemButton = function (text, id) {
    const page = this;
    const button = element('button', 'modeler-problem__button');
    button.type = 'button';
    button.textContent = text;
    button.dataset.elementId = id;
    button.addEventListener('click', async function () {
      const shown = await page.editor.show(id);
      page.say(shown ? 'elementShown' : 'elementMissing', { id: id }, !shown);
    });
    return button;
  };

  ModelerPage.prototype.bind = function () {
    const page = this;
    if (this.saveButton) {
      this.saveButton.addEventListener('click', function () { page.send('save'); });
    }
    if (this.checkButton) {
      this.checkButton.addEventListener('click', function () { page.send('check'); });
    }
    window.addEventListener('beforeunload', function (event) {
      if (page.dirty) {
        event.preventDefault();
        event.returnValue = page.messages.unsavedChanges || '';
      }
    });
  };

  /* Read-only drafts (submitted or closed, data-editable="false") have no save and no warning. */
  ModelerPage.prototype.markDirty = function () {
    if (!this.dirty && this.data.editable !== 'false') {
      this.dirty = true;
      this.root.dataset.dirty = 'true';
    }
  };

  ModelerPage.prototype.fetchText = async function (url) {
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) {
      throw new Error(fill(this.messages.httpStatus || 'HTTP {status}', { status: response.status }));
    }
    return response.text();
  };

  ModelerPage.prototype.fetchJson = async function (url) {
    return JSON.parse(await this.fetchText(url));
  };

  /* Save or check: POST the editor's content, then list the problems the server found. */
  ModelerPage.prototype.send = async function (action) {
    if (this.busy || !this.editor) {
      return;
    }
    this.busy = true;
    this.say(action === 'save' ? 'saving' : 'checking');
    try {
      const body = { content: await this.editor.content() };
      if (action === 'save' && /^\d+$/.test(this.data.revision || '')) {
        body.revision = Number(this.data.revision); // a save over a newer one is refused (409)
      }
      const answer = await this.post(action === 'save' ? this.data.saveUrl : this.data.checkUrl, body);
      if (answer.ok && typeof answer.body.revision === 'number') {
        this.root.dataset.revision = String(answer.body.revision);
      }
      this.report(action, answer);
    } catch (error) {
      this.say('contentFailed', { reason: error && error.message ? error.message : String(error) }, true);
    } finally {
      this.busy = false;
    }
  };

  ModelerPage.prototype.post = async function (url, payload) {
    const token = document.querySelector('meta[name="csrf-token"]');
    let response;
    try {
      response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'X-CSRFToken': token ? token.content : ''
        },
        body: JSON.stringify(payload)
      });
    } catch (error) {
      return { ok: false, status: 0, body: {} };
    }
    let body = {};
    try {
      body = await response.json();
    } catch (error) {
      body = {};
    }
    return { ok: response.ok, status: response.status, body: body };
  };

  ModelerPage.prototype.report = function (action, answer) {
    const problems = Array.isArray(answer.body.problems) ? answer.body.problems : null;
    /* The routes answer {"error"}, the app's error handler {"message"} (413, CSRF, 403 …). */
    const reason = answer.body.error || answer.body.message;
    if (!answer.ok && (reason || !problems)) {
      const key = reason ? 'refused' : (answer.status === 0 ? 'networkError' : 'serverError');
      this.say(key, { reason: reason, status: answer.status }, true);
      if (problems) {
        this.listProblems(problems);
      }
      return;
    }
    if (action === 'save' && answer.ok) {
      this.dirty = false;
      delete this.root.dataset.dirty;
    }
    this.listProblems(problems || []);
    const count = (problems || []).length;
    if (action === 'save') {
      this.say(count ? 'savedWithProblems' : 'saved', { count: count }, !answer.ok);
    } else {
      this.say(count ? 'checkedWithProblems' : 'checkedClean', { count: count }, count > 0);
    }
  };

  /* One list item per problem; a button when the element is in this editor. */
  ModelerPage.prototype.listProblems = function (problems) {
    if (!this.problems) {
      return;
    }
    const page = this;
    this.problems.textContent = '';
    this.editor.clearMarks();
    problems.forEach(function (problem) {
      const item = element('li', 'modeler-problem');
      const where = [problem.file, problem.element_id].filter(Boolean).join(' · ');
      const text = (where ? where + ': ' : '') + (problem.message || '');
      if (problem.element_id && page.editor.has(problem.element_id)) {
        item.appendChild(page.problemButton(text, problem.element_id));
      } else {
        item.textContent = text;
      }
      page.problems.appendChild(item);
    });
  };

  function init() {
    const root = document.getElementById('modeler-root');
    if (!root) {
      return;
    }
    const page = new ModelerPage(root);
    window.hilfenetzModelerPage = page;
    page.start();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
