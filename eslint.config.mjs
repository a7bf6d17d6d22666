// Lint of the map page script: src/luodian_map/templates/lm_*.js joined in the order of
// luodian_map.web.templates.PAGE_SCRIPT_PARTS (one closure; a part alone is not a program).
// tests/test_page_script.py passes the joined script on stdin as luodian_map.js.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2017,
      sourceType: "script",
      globals: { ...globals.browser, L: "readonly" },
    },
    rules: {
      "no-var": "off",
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-implicit-globals": "error",
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
    },
  },
];
