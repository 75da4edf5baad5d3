/*
 * Read-only process diagrams: bpmn-js NavigatedViewer (global `BpmnJS` from
 * vendor/bpmn-js/bpmn-navigated-viewer.production.min.js) for every
 *
 *   <div class="bpmn-diagram" data-xml-url="…/diagramm.bpmn" data-completed='["id1"]'
 *        data-active='["id3"]' data-label="Prozessdiagramm: …" data-legend-id="legend-1"></div>
 *
 * Completed and active elements get the markers hn-completed / hn-active (colours in
 * css/diagram.css) and an icon overlay, so the state is not shown by colour alone.
 * Buttons above the diagram zoom in, out and back to fit; Ctrl + arrow keys pan the focused
 * drawing, the mouse drags and (with Ctrl) wheel-zooms. The drawing itself (the focusable SVG) gets
 * role="img" and the label; a visually hidden list after the container names the active
 * and completed steps for screen readers. Role "img" goes on the SVG, not the container:
 * the container also holds the bpmn.io link, which must stay visible and reachable.
 */
(function () {
  'use strict';

  /* Headings and button words come from the page (data-* attributes, German or English);
   * the German words here are only fallbacks. */
  const STATES = [
    { key: 'active', marker: 'hn-active', icon: '●', heading: 'headingActive', fallback: 'Aktuelle Schritte' },
    { key: 'completed', marker: 'hn-completed', icon: '✓', heading: 'headingCompleted', fallback: 'Erledigte Schritte' }
  ];

  let counter = 0;

  /* A JSON array from a data attribute; anything else is an empty list. */
  function parseList(value) {
    try {
      const items = JSON.parse(value || '[]');
      return Array.isArray(items) ? items : [];
    } catch (error) {
      return [];
    }
  }

  function stepName(element) {
    const name = element.businessObject && element.businessObject.name;
    return name ? name.replace(/\s+/g, ' ').trim() : 'Schritt ohne Namen (' + element.id + ')';
  }

  function showError(container, message) {
    const paragraph = document.createElement('p');
    paragraph.className = 'alert alert--error';
    paragraph.textContent = message;
    container.textContent = '';
    container.classList.add('bpmn-diagram--failed');
    container.appendChild(paragraph);
  }

  /* Markers, overlays and the text list; returns the list element. */
  function markSteps(viewer, container) {
    const canvas = viewer.get('canvas');
    const overlays = viewer.get('overlays');
    const registry = viewer.get('elementRegistry');
    const summary = document.createElement('div');
    summary.className = 'visually-hidden';
    summary.id = 'bpmn-diagram-steps-' + (++counter);

    STATES.forEach(function (state) {
      const elements = parseList(container.dataset[state.key])
        .map(function (id) { return registry.get(id); })
        .filter(Boolean);
      const names = [];
      elements.forEach(function (element) {
        canvas.addMarker(element, state.marker);
        if (element.waypoints) {
          return; // sequence flows: marker only, no overlay, not listed
        }
        names.push(stepName(element));
        const badge = document.createElement('span');
        badge.className = 'hn-state-badge hn-state-badge--' + state.key;
        badge.textContent = state.icon;
        badge.setAttribute('aria-hidden', 'true');
        overlays.add(element, 'hn-state', { position: { top: -10, right: 10 }, html: badge });
      });
      if (names.length) {
        const heading = document.createElement('p');
        heading.textContent = (container.dataset[state.heading] || state.fallback) + ':';
        const list = document.createElement('ul');
        names.forEach(function (name) {
          const item = document.createElement('li');
          item.textContent = name;
          list.appendChild(item);
        });
        summary.appendChild(heading);
        summary.appendChild(list);
      }
    });
    return summary;
  }

  /* Zoom buttons before the diagram, so zooming needs no mouse wheel. */
  function addZoomButtons(viewer, container) {
    const canvas = viewer.get('canvas');
    const tools = document.createElement('div');
    tools.className = 'bpmn-diagram__tools';
    tools.setAttribute('role', 'group');
    tools.setAttribute('aria-label', container.dataset.label || 'Prozessdiagramm');
    [
      [container.dataset.zoomIn || 'Vergrößern', function () { canvas.zoom(canvas.zoom() * 1.25); }],
      [container.dataset.zoomOut || 'Verkleinern', function () { canvas.zoom(canvas.zoom() / 1.25); }],
      [container.dataset.zoomFit || 'Ganzes Diagramm zeigen', function () { canvas.zoom('fit-viewport', 'auto'); }]
    ].forEach(function (tool) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'button button--secondary button--small';
      button.textContent = tool[0];
      button.addEventListener('click', tool[1]);
      tools.appendChild(button);
    });
    container.insertAdjacentElement('beforebegin', tools);
  }

  async function showDiagram(container) {
    container.setAttribute('aria-busy', 'true');
    try {
      const response = await fetch(container.dataset.xmlUrl, { credentials: 'same-origin' });
      if (!response.ok) {
        throw new Error('HTTP ' + response.status);
      }
      const xml = await response.text();
      const viewer = new window.BpmnJS({ container: container });
      await viewer.importXML(xml);
      viewer.get('canvas').zoom('fit-viewport', 'auto');

      addZoomButtons(viewer, container);
      const summary = markSteps(viewer, container);
      container.insertAdjacentElement('afterend', summary);
      const svg = container.querySelector('.djs-container > svg');
      const describedBy = [container.dataset.legendId, summary.id].filter(Boolean).join(' ');
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', container.dataset.label || 'Prozessdiagramm');
      svg.setAttribute('aria-describedby', describedBy);
    } catch (error) {
      window.console.error(error);
      showError(container, container.dataset.error || 'Das Prozessdiagramm konnte nicht geladen werden.');
    } finally {
      container.removeAttribute('aria-busy');
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    const containers = document.querySelectorAll('.bpmn-diagram[data-xml-url]');
    containers.forEach(function (container) {
      if (window.BpmnJS) {
        showDiagram(container);
      } else {
        showError(container, container.dataset.error || 'Das Prozessdiagramm kann nicht angezeigt werden.');
      }
    });
  });

  /* Shared with the other diagram pages (js/heatmap.js), which load after this file. */
  window.HilfenetzDiagram = { parseList: parseList, showError: showError, addZoomButtons: addZoomButtons };
}());
