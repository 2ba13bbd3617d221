/* Test-only stand-in for bcryptprimitives.dll, which Wine 8.0 lacks: Rust's standard
   library imports ProcessPrng from it (every Windows 10 / Server 2016 and later has it).
   scripts/check-windows builds it into the test copy of the zip; never into the zip. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom, advapi32 */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
