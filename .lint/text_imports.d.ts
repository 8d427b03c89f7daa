// Deno imports sql/ migrations `with { type: "text" }`; TypeScript needs to be
// told such a module's default export is its text.
declare module "*.sql" {
  const text: string;
  export default text;
}
