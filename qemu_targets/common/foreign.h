/*
 * Handlers built by other compilers (foreign/, see the Makefile). A build
 * without clang or rustc links a stand-in instead (foreign/not_built.S):
 * the handlers are then NULL (weak) and <style>_not_built says why.
 */
#ifndef FOREIGN_H
#define FOREIGN_H

#define WEAK __attribute__((weak))

extern char style_clang_handler[] WEAK, style_clang_err_handler[] WEAK;
extern const char style_clang_not_built[] WEAK;
extern char style_rust_handler[] WEAK, style_rust_err_handler[] WEAK;
extern const char style_rust_not_built[] WEAK;

/* sc_style.c: 1 if handler was built, else fail("not built: <why>"). */
int style_built(const void *handler, const char *why);

#endif
