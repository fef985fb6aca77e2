/* libFuzzer harness: the packet-script parser of `synack script`
 * (tools/synack/script_parse.c).  Any text must parse or fail cleanly,
 * with an error line inside the text, and free what it allocated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/synack/script_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parser takes (text, len): give it exactly the fuzzer's bytes, in a
     * buffer of that size, so that any read past the end shows. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    struct sn_script sc;
    char err[256];
    int line = -1;
    memset(&sc, 0, sizeof(sc));
    int rc = sn_script_parse(text, size, &sc, &line, err, sizeof(err));
    if (rc == 0)
        sn_script_free(&sc);
    else if (memchr(err, 0, sizeof(err)) == NULL)
        abort();
    free(text);
    return 0;
}
