// Progressive enhancement only: every page works without it. GOV.UK Frontend's components
// (error summary focus, service navigation menu on small screens, ...) on browsers that run
// ES modules; a module script, so the GOV.UK template's inline check is the only inline script.
import { initAll } from "/assets/govuk-frontend.min.js";

initAll();
