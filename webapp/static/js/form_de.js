/*
 * German for the form-js 1.23 viewer, which has no translation hook of its own.
 * Defines window.HilfenetzFormDe = { module, observe(container) }; js/task_form.js uses it
 * when data-lang="de". Load after vendor/form-js/form-viewer.umd.js, before task_form.js.
 *
 * - `module` (a didi module for the Form's additionalModules) wraps the `validator` service,
 *   so the built-in validation messages ("Field is required." …) come out German.
 * - `observe(container)` replaces the few English strings the viewer renders ("Select",
 *   "Search", aria-labels …) and switches its date picker (flatpickr) to German month and
 *   day names, Monday first. A MutationObserver repeats this after each re-render.
 */
(function () {
  'use strict';

  const VALIDATION = [
    [/^Field is required\.$/, 'Bitte füllen Sie dieses Feld aus.'],
    [/^Field must have minimum value of (.+)\.$/, 'Der Wert muss mindestens $1 sein.'],
    [/^Field must have maximum value of (.+)\.$/, 'Der Wert darf höchstens $1 sein.'],
    [/^Field must have minimum length of (.+)\.$/, 'Bitte geben Sie mindestens $1 Zeichen ein.'],
    [/^Field must have maximum length of (.+)\.$/, 'Bitte geben Sie höchstens $1 Zeichen ein.'],
    [/^Field must match pattern (.+)\.$/, 'Die Eingabe hat nicht das erwartete Format.'],
    [/^Field must be a valid email\.$/, 'Bitte geben Sie eine gültige E-Mail-Adresse ein.'],
    [/^Field must be a valid +international phone number\..*$/,
      'Bitte geben Sie eine Telefonnummer im internationalen Format ein (z. B. +4929021234567).'],
    [/^Value is not a number\.$/, 'Bitte geben Sie eine Zahl ein.'],
    [/^Value is expected to be an integer\.$/, 'Bitte geben Sie eine ganze Zahl ein.'],
    [/^Value is expected to have at most (\d+) decimal digits?\.$/,
      'Bitte geben Sie höchstens $1 Nachkommastellen ein.'],
    [/^Please select a valid value, the two nearest valid values are (.+) and (.+)\.$/,
      'Bitte wählen Sie einen gültigen Wert, zum Beispiel $1 oder $2.']
  ];

  /* Text the viewer renders as element content (matched after trimming). */
  const TEXTS = [
    [/^Select$/, 'Bitte auswählen'],
    [/^Browse$/, 'Durchsuchen'],
    [/^Nothing to show\.$/, 'Keine Einträge.'],
    [/^No files selected$/, 'Keine Datei ausgewählt'],
    [/^(\d+) files selected$/, '$1 Dateien ausgewählt'],
    [/^of$/, 'von']
  ];

  /* Text the viewer renders in attributes. */
  const ATTRIBUTES = ['placeholder', 'aria-label', 'title', 'alt'];
  const ATTRIBUTE_TEXTS = [
    [/^Search$/, 'Suchen'],
    [/^Increment$/, 'Erhöhen'],
    [/^Decrement$/, 'Verringern'],
    [/^Next page$/, 'Nächste Seite'],
    [/^Previous page$/, 'Vorherige Seite'],
    [/^Remove tag$/, 'Eintrag entfernen'],
    [/^Skip to search$/, 'Zur Suche springen'],
    [/^Remove list item (\d+)$/, 'Listeneintrag $1 entfernen'],
    [/^Download (.+)$/, '$1 herunterladen'],
    [/^This is an image placeholder$/, 'Platzhalter für ein Bild'],
    [/^dd\.mm\.yyyy$/, 'TT.MM.JJJJ'],
    // the date picker builds its month/year controls before it can be switched to German
    [/^Month$/, 'Monat'],
    [/^Year$/, 'Jahr'],
    [/^Hour$/, 'Stunde']
  ];

  const FLATPICKR_DE = {
    weekdays: {
      shorthand: ['So', 'Mo', 'Di', 'Mi', 'Do', 'Fr', 'Sa'],
      longhand: ['Sonntag', 'Montag', 'Dienstag', 'Mittwoch', 'Donnerstag', 'Freitag', 'Samstag']
    },
    months: {
      shorthand: ['Jan', 'Feb', 'Mär', 'Apr', 'Mai', 'Jun', 'Jul', 'Aug', 'Sep', 'Okt', 'Nov', 'Dez'],
      longhand: ['Januar', 'Februar', 'März', 'April', 'Mai', 'Juni', 'Juli', 'August', 'September',
        'Oktober', 'November', 'Dezember']
    },
    firstDayOfWeek: 1,
    weekAbbreviation: 'KW',
    rangeSeparator: ' bis ',
    scrollTitle: 'Zum Ändern scrollen',
    toggleTitle: 'Zum Umschalten klicken',
    yearAriaLabel: 'Jahr',
    monthAriaLabel: 'Monat',
    hourAriaLabel: 'Stunde',
    minuteAriaLabel: 'Minute',
    time_24hr: true
  };

  function translate(table, text) {
    for (let i = 0; i < table.length; i++) {
      if (table[i][0].test(text)) {
        return text.replace(table[i][0], table[i][1]);
      }
    }
    return text;
  }

  const module = {
    __init__: [['validator', function (validator) {
      ['validateFieldInstance', 'validateField'].forEach(function (name) {
        const original = validator[name];
        if (typeof original === 'function') {
          validator[name] = function () {
            return original.apply(validator, arguments).map(function (message) {
              return translate(VALIDATION, message);
            });
          };
        }
      });
    }]]
  };

  function translateTree(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.data.trim();
      const german = text && translate(TEXTS, text);
      if (german && german !== text) {
        node.data = node.data.replace(text, german);
      }
    }
    ATTRIBUTES.forEach(function (name) {
      root.querySelectorAll('[' + name + ']').forEach(function (element) {
        const value = element.getAttribute(name);
        const german = translate(ATTRIBUTE_TEXTS, value);
        if (german !== value) {
          element.setAttribute(name, german);
        }
      });
    });
    root.querySelectorAll('.flatpickr-input').forEach(function (input) {
      const picker = input._flatpickr;
      if (picker && picker.config.locale !== FLATPICKR_DE) {
        picker.set({ locale: FLATPICKR_DE, ariaDateFormat: 'j. F Y' });
      }
    });
  }

  function observe(container) {
    translateTree(container);
    new MutationObserver(function () { translateTree(container); }).observe(container, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
      attributeFilter: ATTRIBUTES
    });
  }

  window.HilfenetzFormDe = { module: module, observe: observe };
}());
