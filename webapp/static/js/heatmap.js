/*
 * Process analytics heatmap: bpmn-js NavigatedViewer (global `BpmnJS`) for
 *
 *   <div class="bpmn-diagram hn-heatmap" data-heatmap-url="…/diagramm.bpmn"
 *        data-overlays='[{"id": "task_1", "text": "12× · Median 3 Tage · 90 % 5 Tage", "heat": 3}]'
 *        data-label="…" data-described-by="hint-id legend-id" data-error="…"
 *        data-zoom-in="…" data-zoom-out="…" data-zoom-fit="…"></div>
 *
 * Every element gets a marker hn-heat-0 … hn-heat-4 (fill colour, css/heatmap.css) and an overlay
 * with its figures as text (one line per part of "a · b · c"), so the colour is never the only sign. The page's table holds the same
 * figures for keyboard and screen-reader users; the drawing (role="img") points to the legend and
 * the hint. All words come from the page (German or English), none are written here. Parsing,
 * the error box and the zoom buttons are js/diagram.js's (window.HilfenetzDiagram).
 */
(function () {
  'use strict';

  const shared = window.HilfenetzDiagram; // js/diagram.js: parseList, showError, addZoomButtons

  function showError(container) {
    const message = container.dataset.error || 'Fehler';
    if (shared) {
      shared.showError(container, message);
    } else {
      container.textContent = message;
    }
  }

  function addHeat(viewer, container) {
    const canvas = viewer.get('canvas');
    const overlays = viewer.get('overlays');
    const registry = viewer.get('elementRegistry');
    shared.parseList(container.dataset.overlays).forEach(function (item) {
      const element = registry.get(item.id);
      if (!element || element.waypoints) {
        return;
      }
      const heat = typeof item.heat === 'number' ? item.heat : null;
      canvas.addMarker(element, heat === null ? 'hn-heat-none' : 'hn-heat-' + heat);
      const badge = document.createElement('span');
      badge.className = 'hn-heat-badge' + (heat === null ? '' : ' hn-heat-badge--' + heat);
      String(item.text).split(' · ').forEach(function (part) {
        const line = document.createElement('span');
        line.className = 'hn-heat-badge__line';
        line.textContent = part;
        badge.appendChild(line);
      });
      badge.setAttribute('data-element', item.id);
      overlays.add(element, 'hn-heat', { position: { bottom: -4, left: 0 }, html: badge });
    });
  }

  async function showHeatmap(container) {
    container.setAttribute('aria-busy', 'true');
    try {
      const response = await fetch(container.dataset.heatmapUrl, { credentials: 'same-origin' });
      if (!response.ok) {
        throw new Error('HTTP ' + response.status);
      }
      const viewer = new window.BpmnJS({ container: container });
      await viewer.importXML(await response.text());
      viewer.get('canvas').zoom('fit-viewport', 'auto');
      shared.addZoomButtons(viewer, container);
      addHeat(viewer, container);
      const svg = container.querySelector('.djs-container > svg');
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', container.dataset.label || '');
      svg.setAttribute('aria-describedby', container.dataset.describedBy || '');
      container.classList.add('hn-heatmap--ready');
    } catch (error) {
      window.console.error(error);
      showError(container);
    } finally {
      container.removeAttribute('aria-busy');
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('.hn-heatmap[data-heatmap-url]').forEach(function (container) {
      if (window.BpmnJS && shared) {
        showHeatmap(container);
      } else {
        showError(container);
      }
    });
  });
}());
