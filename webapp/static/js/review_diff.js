/*
 * Side by side on the approval page (templates/modellierung/review.html): for every
 *
 *   <div class="review-side-by-side" data-kind="bpmn" data-old-url="…/bisher" data-new-url="…/inhalt">
 *
 * the live diagram (left) and the draft (right) in two bpmn-js NavigatedViewers (global `BpmnJS`
 * from vendor/bpmn-js/bpmn-navigated-viewer.production.min.js). The elements the diff table of
 * the same section lists are marked: added ones on the right, removed ones on the left, changed
 * ones on both, each with a symbol as well as a colour (+, −, ~). The table stays the accessible
 * version of the comparison; the drawings are images with a label. Words come from the page's
 * JSON block #review-diff-config. Forms and DMN tables: the table alone.
 */
(function () {
  'use strict';

  const CHANGES = {
    hinzugefuegt: { marker: 'hn-diff-added', symbol: '+', sides: ['new'] },
    entfernt: { marker: 'hn-diff-removed', symbol: '−', sides: ['old'] },
    geaendert: { marker: 'hn-diff-changed', symbol: '~', sides: ['old', 'new'] }
  };

  function readConfig() {
    const block = document.getElementById('review-diff-config');
    try {
      return block ? JSON.parse(block.textContent) : {};
    } catch (error) {
      return {};
    }
  }

  function fill(template, values) {
    return String(template || '').replace(/\{(\w+)\}/g, function (match, key) {
      return values[key] !== undefined ? String(values[key]) : match;
    });
  }

  /* [{id, change}] from the diff table rows of the slot's section. */
  function listedChanges(slot) {
    const section = slot.closest('section') || document;
    const seen = {};
    const changes = [];
    section.querySelectorAll('tr.diff-row').forEach(function (row) {
      const kind = Object.keys(CHANGES).find(function (key) {
        return row.classList.contains('diff-row--' + key);
      });
      const header = row.querySelector('th');
      const id = header ? header.textContent.trim() : '';
      if (kind && id && !seen[id]) {
        seen[id] = true;
        changes.push({ id: id, change: kind });
      }
    });
    return changes;
  }

  /* Role "img" and the label go on the drawing (the SVG), not on the pane: the pane also holds
   * the focusable bpmn.io link, and an image must not contain controls (axe nested-interactive). */
  function labelDrawing(canvasNode) {
    const svg = canvasNode.querySelector('.djs-container > svg');
    if (svg) {
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', canvasNode.dataset.label || '');
    }
  }

  function pane(slot, heading, label) {
    const box = document.createElement('div');
    box.className = 'review-side-by-side__pane';
    const title = document.createElement('p');
    title.className = 'review-side-by-side__heading';
    title.textContent = heading;
    const canvas = document.createElement('div');
    canvas.className = 'review-side-by-side__canvas';
    canvas.dataset.label = label;
    box.append(title, canvas);
    slot.appendChild(box);
    return canvas;
  }

  async function show(canvasNode, url, changes, side) {
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) {
      throw new Error(String(response.status));
    }
    const viewer = new window.BpmnJS({ container: canvasNode });
    await viewer.importXML(await response.text());
    labelDrawing(canvasNode);
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    const overlays = viewer.get('overlays');
    canvas.zoom('fit-viewport');
    let marked = 0;
    changes.forEach(function (item) {
      const how = CHANGES[item.change];
      const element = registry.get(item.id);
      if (!element || how.sides.indexOf(side) < 0) {
        return;
      }
      canvas.addMarker(element, how.marker);
      marked += 1;
      if (!element.waypoints) {
        const badge = document.createElement('span');
        badge.className = 'hn-diff-badge ' + how.marker;
        badge.textContent = how.symbol;
        badge.setAttribute('aria-hidden', 'true');
        overlays.add(element, 'hn-diff', { position: { top: -10, left: -10 }, html: badge });
      }
    });
    canvasNode.dataset.marked = String(marked);
    return viewer;
  }

  async function sideBySide(slot, config) {
    const words = config.messages || {};
    const changes = listedChanges(slot);
    const legend = document.createElement('p');
    legend.className = 'review-side-by-side__legend';
    legend.textContent = words.legend || '';
    slot.appendChild(legend);
    const jobs = [];
    if (slot.dataset.oldUrl) {
      const old = pane(slot, words.oldHeading, words.oldLabel);
      jobs.push(show(old, slot.dataset.oldUrl, changes, 'old'));
    }
    const fresh = pane(slot, words.newHeading, words.newLabel);
    jobs.push(show(fresh, slot.dataset.newUrl, changes, 'new'));
    try {
      await Promise.all(jobs);
      slot.dataset.ready = 'true';
    } catch (error) {
      const message = document.createElement('p');
      message.className = 'alert alert--error';
      message.textContent = fill(words.failed, { reason: error.message });
      slot.textContent = '';
      slot.appendChild(message);
    }
  }

  function init() {
    if (!window.BpmnJS) {
      return;
    }
    const config = readConfig();
    document.querySelectorAll('.review-side-by-side[data-kind="bpmn"]').forEach(function (slot) {
      slot.classList.add('review-side-by-side--active');
      sideBySide(slot, config);
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
