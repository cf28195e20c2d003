//! ChatHub (`/hubs/chat`): joining conversations, sending and changing messages, typing. Each
//! method decodes its argument, makes one core call and answers with the seed's ack shape;
//! failures of the core come back in the ack (or as an `Error` event for methods without one).

use std::sync::Arc;

use chatgate_core::model::{Block, Mention};
use chatgate_core::service::EditMessage;
use chatgate_core::{Core, CoreError};
use chatgate_signalr::{Caller, Hub, HubError, HubOptions};
use serde::Deserialize;
use serde_json::Value;

use super::dto::*;
use super::{Member, conversation_group};
use crate::wire::{SendMessageBody, from_object, take_string};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EditMessageRequest {
    message_id: String,
    new_blocks: Vec<Block>,
    #[serde(default)]
    new_mentions: Option<Vec<Mention>>,
    #[serde(default, deserialize_with = "crate::rest::extract::present")]
    new_reply_to_message_id: Option<Option<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageRequest {
    message_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReactionRequest {
    message_id: String,
    emoji: String,
}

/// Sends the caller an `Error` event describing `e`.
fn report(caller: &Caller<Member>, e: &CoreError) {
    caller.send("Error", &(HubErrorDto::from(e),));
}

pub fn hub(core: Arc<Core>, authenticate: super::Authenticator, options: HubOptions) -> Hub<Member> {
    let c = core;
    let (c1, c2, c3, c4, c5, c6, c7, c8, c9) =
        (c.clone(), c.clone(), c.clone(), c.clone(), c.clone(), c.clone(), c.clone(), c.clone(), c.clone());
    Hub::builder("chat", move |token| authenticate(token))
        .options(options)
        .method("JoinConversation", move |caller: Caller<Member>, (id,): (String,)| {
            let core = c1.clone();
            async move {
                match core.check_access(&caller.user.0, &id).await {
                    Ok(_) => caller.join_group(&conversation_group(&id)),
                    Err(e) => report(&caller, &e),
                }
                Ok::<_, HubError>(())
            }
        })
        .method("LeaveConversation", move |caller: Caller<Member>, (id,): (String,)| async move {
            caller.leave_group(&conversation_group(&id));
            Ok::<_, HubError>(())
        })
        .method("SendMessage", move |caller: Caller<Member>, (request,): (Value,)| {
            let core = c2.clone();
            async move {
                let outcome = async {
                    // The seed's ChatSendMessageRequest: the REST body plus `conversationId`.
                    let mut request = request;
                    let conversation_id = take_string(&mut request, "conversationId")?;
                    let body: SendMessageBody = from_object(request, "request")?;
                    core.send_message(&caller.user.0, &conversation_id, body.into()).await
                }
                .await;
                Ok::<_, HubError>(match outcome {
                    Ok(sent) => SendMessageAck {
                        success: true,
                        message_id: Some(sent.message.id),
                        client_message_id: sent.message.client_message_id,
                        created_at: Some(sent.message.created_at),
                        ..Default::default()
                    },
                    Err(e) => SendMessageAck { error: (&e).into(), ..Default::default() },
                })
            }
        })
        .method("EditMessage", move |caller: Caller<Member>, (request,): (Value,)| {
            let core = c3.clone();
            async move {
                let outcome = async {
                    let r: EditMessageRequest = from_object(request, "request")?;
                    let edit = EditMessage {
                        blocks: r.new_blocks,
                        mentions: r.new_mentions,
                        reply_to_message_id: r.new_reply_to_message_id,
                    };
                    core.edit_message(&caller.user.0, &r.message_id, edit).await
                }
                .await;
                Ok::<_, HubError>(match outcome {
                    Ok(m) => EditMessageAck {
                        success: true,
                        message_id: Some(m.id),
                        edited_at: m.edited_at,
                        ..Default::default()
                    },
                    Err(e) => EditMessageAck { error: (&e).into(), ..Default::default() },
                })
            }
        })
        .method("DeleteMessage", move |caller: Caller<Member>, (request,): (Value,)| {
            let core = c4.clone();
            async move {
                let outcome = async {
                    let r: MessageRequest = from_object(request, "request")?;
                    core.delete_message(&caller.user.0, &r.message_id).await
                }
                .await;
                Ok::<_, HubError>(match outcome {
                    Ok(m) => DeleteMessageAck {
                        success: true,
                        message_id: Some(m.id),
                        deleted_at: m.deleted_at,
                        ..Default::default()
                    },
                    Err(e) => DeleteMessageAck { error: (&e).into(), ..Default::default() },
                })
            }
        })
        .method("RecoverMessage", move |caller: Caller<Member>, (request,): (Value,)| {
            let core = c5.clone();
            async move {
                let outcome = async {
                    let r: MessageRequest = from_object(request, "request")?;
                    core.recover_message(&caller.user.0, &r.message_id).await
                }
                .await;
                Ok::<_, HubError>(match outcome {
                    Ok(m) => {
                        RecoverMessageAck { success: true, message_id: Some(m.id), ..Default::default() }
                    }
                    Err(e) => RecoverMessageAck { error: (&e).into(), ..Default::default() },
                })
            }
        })
        .method("AddReaction", move |caller: Caller<Member>, (request,): (Value,)| {
            let core = c6.clone();
            async move { Ok::<_, HubError>(react(&core, &caller, request, true).await) }
        })
        .method("RemoveReaction", move |caller: Caller<Member>, (request,): (Value,)| {
            let core = c7.clone();
            async move { Ok::<_, HubError>(react(&core, &caller, request, false).await) }
        })
        .method("StartTyping", move |caller: Caller<Member>, (id,): (String,)| {
            let core = c8.clone();
            async move {
                if let Err(e) = core.typing(&caller.user.0, &id, true).await {
                    report(&caller, &e);
                }
                Ok::<_, HubError>(())
            }
        })
        .method("StopTyping", move |caller: Caller<Member>, (id,): (String,)| {
            let core = c9.clone();
            async move {
                if let Err(e) = core.typing(&caller.user.0, &id, false).await {
                    report(&caller, &e);
                }
                Ok::<_, HubError>(())
            }
        })
        .build()
}

async fn react(core: &Core, caller: &Caller<Member>, request: Value, add: bool) -> ReactionAck {
    let outcome = async {
        let r: ReactionRequest = from_object(request, "request")?;
        if add {
            core.add_reaction(&caller.user.0, &r.message_id, &r.emoji).await?;
        } else {
            core.remove_reaction(&caller.user.0, &r.message_id, &r.emoji).await?;
        }
        Ok::<_, CoreError>(r)
    }
    .await;
    match outcome {
        Ok(r) => ReactionAck {
            success: true,
            message_id: Some(r.message_id),
            emoji: Some(r.emoji),
            ..Default::default()
        },
        Err(e) => ReactionAck { error: (&e).into(), ..Default::default() },
    }
}
