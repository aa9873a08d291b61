/**
 * Terraform reads every string in the synthesized JSON as a template: `${...}` and `%{...}` in a
 * shell script or a systemd unit would be taken as Terraform expressions. cdktf does not escape
 * literal text, so user-data is escaped here (`$${`, `%%{`), leaving cdktf's own token markers
 * (`${TfToken[...]}`, resolved later to references such as a bucket name) untouched.
 */
export function escapeTerraformTemplate(text: string): string {
  // replacer functions: in a replacement string "$$" would mean a single "$"
  return text.replace(/\$\{(?!TfToken\[)/g, () => "$${").replace(/%\{/g, () => "%%{");
}
