/**
 * The gallery's starting points: the same list `kumo init --template` offers, from one plain-data
 * module of @kumo/core (no imports, nothing Node-only), so the two never drift apart.
 */
export {
  FUNCTION_TEMPLATES as TEMPLATES,
  type FunctionTemplate as Template,
} from "@kumo/core/function-templates";
