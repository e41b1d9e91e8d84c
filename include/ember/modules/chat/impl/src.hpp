// ember: the chat module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-chat') compiles them once (libember-chat).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/chat/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/chat/impl/channel_id.hpp"
#include "ember/modules/chat/impl/chat.hpp"
#include "ember/modules/chat/impl/word_filter.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_chat::register_commands<0>(ember::net::dispatch_table&,
                                              ember_chat::chat_handler&);
