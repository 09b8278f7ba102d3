/*
 * A conservative x86 classifier: may this instruction write the state the
 * trace plugin caches?  See state_writers.h.  Only the opcode bytes matter:
 * legacy prefixes and REX are skipped, then the one- or two-byte opcode and,
 * where the opcode is shared by harmless and writing forms, the ModRM byte.
 */
#include "state_writers.h"

static bool legacy_prefix(uint8_t b)
{
    switch (b) {
    case 0x26: case 0x2e: case 0x36: case 0x3e:     /* segment overrides */
    case 0x64: case 0x65:
    case 0x66: case 0x67:                           /* operand/address size */
    case 0xf0: case 0xf2: case 0xf3:                /* lock, rep, SSE selectors */
        return true;
    default:
        return false;
    }
}

/* 0F 01 with mod == 3: the register forms.  Harmless and frequent ones are
 * listed; everything else (swapgs, xsetbv, SVM's vmrun/vmload, VMX, ...)
 * counts as a writer. */
static bool system_group_writes(uint8_t modrm)
{
    switch (modrm) {
    case 0xc8: case 0xc9:       /* monitor, mwait */
    case 0xca: case 0xcb:       /* clac, stac: every user copy on Linux */
    case 0xd0:                  /* xgetbv */
    case 0xd5: case 0xd6:       /* xend, xtest */
    case 0xe8:                  /* serialize */
    case 0xee: case 0xef:       /* rdpkru, wrpkru (PKRU is not cached) */
    case 0xf9:                  /* rdtscp */
        return false;
    default:
        return true;
    }
}

static bool two_byte_writes(uint8_t op, const uint8_t *rest, size_t left)
{
    uint8_t modrm = left ? rest[0] : 0;
    bool reg_form = (modrm & 0xc0) == 0xc0;
    unsigned reg = (modrm >> 3) & 7;
    if ((op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) ||
        (op >= 0x50 && op <= 0x7f) || op >= 0xd0) {
        return true;            /* SSE/MMX, emms (77); ud0 (ff) is harmless either way */
    }
    switch (op) {
    case 0x01:                  /* lgdt/lidt/invlpg (memory forms) do not write it */
        return left && reg_form && system_group_writes(modrm);
    case 0x0e: case 0x0f:       /* femms, 3DNow! */
    case 0x22:                  /* mov to CR0/CR3/CR4/CR8 */
    case 0x30:                  /* wrmsr: FS/GS bases, KERNEL_GS_BASE, EFER */
    case 0x38: case 0x3a:       /* three-byte maps: SSSE3/SSE4/AES/SHA (and a few GPR ones) */
    case 0xa1: case 0xa9:       /* pop fs, pop gs (the base, in long mode) */
    case 0xaa:                  /* rsm: the whole state back from SMRAM */
    case 0xb2: case 0xb4: case 0xb5:    /* lss, lfs, lgs */
    case 0xc2: case 0xc4: case 0xc5: case 0xc6:
        return true;
    case 0xae:
        if (!left) {
            return true;
        }
        if (reg_form) {
            return reg == 2 || reg == 3;    /* wrfsbase, wrgsbase; not the fences */
        }
        return reg == 1 || reg == 2 || reg == 5;    /* fxrstor, ldmxcsr, xrstor */
    case 0xc7:
        return !left || reg == 3;           /* xrstors */
    default:
        return false;
    }
}

/* Where the opcode starts: after the prefixes, in any order; REX (40-4f)
 * only when more of the same instruction follows (alone, in 32-bit code,
 * the byte is inc/dec).  ``len`` when there is no opcode. */
static size_t opcode_at(const uint8_t *code, size_t len)
{
    size_t i = 0;
    while (i < len && (legacy_prefix(code[i]) || ((code[i] & 0xf0) == 0x40 && i + 1 < len))) {
        i++;
    }
    return i;
}

bool may_null_selectors(const uint8_t *code, size_t len)
{
    size_t i = opcode_at(code, len);
    return i < len && (code[i] == 0xcf || code[i] == 0xca || code[i] == 0xcb);
}

bool may_write_cached_state(const uint8_t *code, size_t len)
{
    size_t i = opcode_at(code, len);
    if (i >= len) {
        return false;
    }
    uint8_t op = code[i];
    const uint8_t *rest = code + i + 1;
    size_t left = len - i - 1;
    switch (op) {
    case 0x0f:
        return left == 0 || two_byte_writes(rest[0], rest + 1, left - 1);
    case 0xd8: case 0xd9: case 0xda: case 0xdb:     /* x87 */
    case 0xdc: case 0xdd: case 0xde: case 0xdf:
    case 0x9b:                  /* fwait */
    case 0xc4: case 0xc5:       /* VEX (les/lds outside long mode) */
    case 0x62:                  /* EVEX (bound outside long mode) */
    case 0x8e:                  /* mov to a segment register (FS/GS: their base) */
    case 0x07: case 0x17: case 0x1f:    /* pop es/ss/ds, outside long mode */
        return true;
    case 0x8f:                  /* XOP, unless pop r/m (ModRM.reg 0) */
        return left == 0 || ((rest[0] >> 3) & 7) != 0;
    default:
        return false;
    }
}
